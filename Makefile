# he-tool: the two commands of the README. Each runs the bootstrap first, which
# installs the Debian -dev libraries the package needs (or says how to).
SWIFT ?= swift
CONFIG ?= release

.PHONY: demo test build bootstrap bench clean

bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	$(SWIFT) build -c $(CONFIG) --product he-tool

## make demo: the main job. Until the encrypted flow (compile/keygen/encrypt/eval/decrypt) lands:
## the bundled MNIST model inspected and run in plaintext on its test images, an encrypted
## convolution layer on CKKS, and the NTT kernels.
demo: build
	$(SWIFT) run -c $(CONFIG) --skip-build he-tool inspect Examples/mnist/model.onnx
	$(SWIFT) run -c $(CONFIG) --skip-build he-tool predict Examples/mnist/model.onnx Examples/mnist/*.png --top 3
	$(SWIFT) run -c $(CONFIG) --skip-build he-tool bench conv --input 1x28x28 --out-channels 5 --kernel 5 --stride 2 --padding 1 --algorithm simd --batch 1
	$(SWIFT) run -c $(CONFIG) --skip-build he-tool bench ntt --log-n 13 --limbs 1 --kernel rns

## make test: the whole test suite, in release mode.
## (XCTest only: the suite has no Swift Testing tests, whose empty run would print last.)
test: bootstrap
	$(SWIFT) test -c $(CONFIG) --disable-swift-testing

clean:
	rm -rf .build
