# he-tool: the two commands of the README. Each runs the bootstrap first, which
# installs the Debian -dev libraries the package needs (or says how to).
SWIFT ?= swift
CONFIG ?= release

.PHONY: demo test build bootstrap bench clean

bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	$(SWIFT) build -c $(CONFIG) --product he-tool

## make demo: the main job. Until the encrypted demo exists, the NTT benchmark table.
demo: build
	$(SWIFT) run -c $(CONFIG) --skip-build he-tool bench ntt --log-n 13 --limbs 1 --kernel rns
	$(SWIFT) run -c $(CONFIG) --skip-build he-tool bench ntt --log-n 13 --limbs 1 --kernel bigint --reps 20

## make test: the whole test suite, in release mode.
## (XCTest only: the suite has no Swift Testing tests, whose empty run would print last.)
test: bootstrap
	$(SWIFT) test -c $(CONFIG) --disable-swift-testing

clean:
	rm -rf .build
