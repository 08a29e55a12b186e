# he-tool: the two commands of the README. Each runs the bootstrap first, which
# installs the Debian -dev libraries the package needs (or says how to).
SWIFT ?= swift
CONFIG ?= release

.PHONY: demo test build bootstrap bench clean

bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	$(SWIFT) build -c $(CONFIG) --product he-tool

## make demo: the main job. The encrypted flow on the bundled MNIST model and three of its test
## images: compile (the first run calibrates this machine, cached), keygen, encrypt, eval on
## the server side with evaluation keys only, decrypt; timings, wire sizes, and the encrypted
## prediction beside the plaintext one.
demo: build
	$(SWIFT) run -c $(CONFIG) --skip-build he-tool demo --example Examples/mnist --images 3

## make test: the whole test suite, in release mode.
## (XCTest only: the suite has no Swift Testing tests, whose empty run would print last.)
test: bootstrap
	$(SWIFT) test -c $(CONFIG) --disable-swift-testing

clean:
	rm -rf .build

## --- Server robustness (issue 15): schema fuzzing and soak, loopback only, bounded. ---
## make schemathesis: docs/openapi.yaml fuzzed against a loopback `he-tool serve` (Schemathesis
## from PyPI into /tmp/venv-schemathesis; ST_EXAMPLES per operation, ST_MAX_TIME seconds).
## make soak: SOAK_MINUTES (default 30) of mixed good and bad traffic; RSS and fds checked.
.PHONY: schemathesis soak
schemathesis: build
	bash scripts/schemathesis.sh

soak: build
	bash scripts/soak.sh

## make fuzz: coverage-guided fuzzing of every reader (libFuzzer + AddressSanitizer; the targets
## are the separate package Fuzz/, never built by `make test` or CI). FUZZ_SECONDS per target
## (default 180), FUZZ_TARGETS to select (default all), FUZZ_PARALLEL at once (default 1). Fails
## on any crash, leak, timeout or out-of-memory; reproducers in Fuzz/findings/<target>/.
## make fuzz-seeds: regenerates the seed corpora Fuzz/Corpus/<target>/.
FUZZ_SECONDS ?= 180
FUZZ_PARALLEL ?= 1
.PHONY: fuzz fuzz-seeds
fuzz: bootstrap
	FUZZ_SECONDS="$(FUZZ_SECONDS)" FUZZ_PARALLEL="$(FUZZ_PARALLEL)" $(if $(FUZZ_TARGETS),FUZZ_TARGETS="$(FUZZ_TARGETS)") SWIFT="$(SWIFT)" bash scripts/fuzz.sh run

fuzz-seeds: bootstrap
	$(if $(FUZZ_TARGETS),FUZZ_TARGETS="$(FUZZ_TARGETS)") SWIFT="$(SWIFT)" bash scripts/fuzz.sh seeds
