# notation-pkcs11: the two commands a newcomer needs are `make demo` and
# `make test`. Both install what they need: Debian packages (softhsm2,
# opensc) through scripts/deps.sh, and the peer tools (notation v1.3.2,
# oras v1.2.3, distribution registry v3.1.2) built from the Go module proxy
# into the user's cache directory by scripts/tools.sh.

GO      ?= go
BIN     := bin/notation-pkcs11
# Every command of the project, built into bin/ by `make build`.
CMDS    := notation-pkcs11 trustpolicy notation-pkcs11-ratify
TOOLS    = $(shell scripts/tools.sh)

.PHONY: all build deps tools tools-ratify test e2e-ratify unit demo bench fuzz clean

all: build

build:
	@mkdir -p bin
	$(GO) build -o bin/ $(addprefix ./cmd/,$(CMDS))

deps:
	@scripts/deps.sh

tools: deps
	@scripts/tools.sh >/dev/null

# The Ratify CLI v1.4.6 for the Ratify tests: a slow cold build (see
# docs/ratify.md), cached like the other tools.
tools-ratify: deps
	@scripts/tools.sh ratify >/dev/null

# Everything: unit, SoftHSM integration and end-to-end tests with the real
# notation CLI. End-to-end tests are required here (they fail, not skip,
# when a tool is missing).
test: deps tools tools-ratify
	NOTATION_PKCS11_TOOLS_BIN=$(TOOLS) NOTATION_PKCS11_E2E=required $(GO) test -count=1 ./...

# Only the Ratify verifier: unit tests and end to end with the real Ratify CLI.
e2e-ratify: deps tools-ratify
	NOTATION_PKCS11_TOOLS_BIN=$(TOOLS) NOTATION_PKCS11_E2E=required $(GO) test -count=1 ./ratifyverifier/ ./cmd/notation-pkcs11-ratify/

# Unit tests only: no HSM, no peer tools.
unit:
	$(GO) test ./pki/ ./plugin/ ./internal/testpki/ ./trustpolicy/... ./revocation/ ./internal/testtsa/ ./ratifyverifier/

demo: deps tools build
	NOTATION_PKCS11_TOOLS_BIN=$(TOOLS) $(GO) run ./internal/demo -plugin $(BIN) -trustpolicy bin/trustpolicy -dir .demo

# Whole-command signing timings against the peers, then the library
# benchmarks whose ratios the README quotes (each measured in one run).
bench: deps tools tools-ratify build
	NOTATION_PKCS11_TOOLS_BIN=$(TOOLS) $(GO) run ./internal/bench -plugin $(BIN) -n 30
	$(GO) test -run '^$$' -bench 'Ratios|Select10k' -benchtime 1x ./trustpolicy/
	$(GO) test -run '^$$' -bench 'CRL1M_Ratios' -benchtime 1x ./revocation/
	$(GO) test -run '^$$' -bench 'CRL1M_Lookup' ./revocation/
	NOTATION_PKCS11_TOOLS_BIN=$(TOOLS) NOTATION_PKCS11_E2E=required $(GO) test -run '^$$' -bench RatifyLatency -benchtime 30x ./cmd/notation-pkcs11-ratify/

# Short fuzz runs of every parser; the seed corpora under testdata/fuzz run
# as regression tests in `make test`.
fuzz:
	$(GO) test -run XXX -fuzz FuzzParseURI -fuzztime 30s ./pki/pkcs11/
	$(GO) test -run XXX -fuzz FuzzParseCertificates -fuzztime 30s ./pki/
	$(GO) test -run XXX -fuzz FuzzECDSARaw -fuzztime 30s ./pki/
	$(GO) test -run XXX -fuzz FuzzLintChain -fuzztime 30s ./pki/
	$(GO) test -run XXX -fuzz FuzzCompile -fuzztime 30s ./trustpolicy/
	$(GO) test -run XXX -fuzz FuzzParseDN -fuzztime 30s ./trustpolicy/
	$(GO) test -run XXX -fuzz FuzzEvaluate -fuzztime 30s ./trustpolicy/
	$(GO) test -run XXX -fuzz FuzzLintKeys -fuzztime 30s ./trustpolicy/
	$(GO) test -run XXX -fuzz FuzzEscape -fuzztime 30s ./internal/textsafe/
	$(GO) test -run XXX -fuzz FuzzLoadFile -fuzztime 30s ./trustpolicy/truststore/
	$(GO) test -run XXX -fuzz FuzzParseCRL -fuzztime 30s ./revocation/
	$(GO) test -run XXX -fuzz FuzzOCSPResponse -fuzztime 30s ./revocation/
	$(GO) test -run XXX -fuzz FuzzParseSubject -fuzztime 30s ./pki/
	$(GO) test -run XXX -fuzz FuzzTargetOf -fuzztime 30s ./plugin/
	$(GO) test -run XXX -fuzz FuzzParseRequest -fuzztime 30s ./ratifyverifier/

clean:
	rm -rf bin .demo
