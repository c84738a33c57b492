# notation-pkcs11: the two commands a newcomer needs are `make demo` and
# `make test`. Both install what they need: Debian packages (softhsm2,
# opensc, openssl, p11-kit, the TPM and opencryptoki stacks) through
# scripts/deps.sh, and the peer tools (notation v1.3.2, oras v1.2.3,
# distribution registry v3.1.2, Ratify v1.4.6, containerd v2.4.2 and ctr)
# built from the Go module proxy into the user's cache directory by
# scripts/tools.sh.

GO      ?= go
BIN     := bin/notation-pkcs11
# Every command of the project, built into bin/ by `make build`.
CMDS    := notation-pkcs11 trustpolicy notation-pkcs11-ratify notation-pkcs11-containerd
TOOLS    = $(shell scripts/tools.sh)
TESTENV  = NOTATION_PKCS11_TOOLS_BIN=$(TOOLS) NOTATION_PKCS11_E2E=required
# Unit packages run under the race detector. End-to-end packages (real
# peers and processes) run without it, and so do two single-goroutine
# packages where it can find nothing at 4x the cost: pki (no goroutine, no
# parallel test) and the differential suite against notation-go
# (trustpolicy/difftest; the engine's concurrent use is raced by
# trustpolicy's and trustpolicy/service's own concurrency tests).
PLAIN     := ./pki/ ./trustpolicy/difftest/
E2E_PKGS  := ./cmd/... ./internal/e2e/... ./internal/demo/... $(PLAIN)
UNIT_PKGS  = $(shell $(GO) list ./... | grep -v -e /cmd/ -e /internal/e2e -e /internal/demo -e /internal/bench -e /trustpolicy/difftest -e '/pki$$')

.PHONY: all build deps tools tools-ratify tools-containerd test test-unit test-e2e e2e-ratify e2e-containerd e2e-kyverno unit demo bench fuzz clean

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

# containerd v2.4.2 and ctr for the pull-time verifier's tests (docs/containerd.md).
tools-containerd: deps
	@scripts/tools.sh containerd >/dev/null

# Everything: unit, SoftHSM integration and end-to-end tests with the real
# notation CLI, then the Gatekeeper interop tests, a nested module so the main
# module never inherits Gatekeeper's and Kubernetes' dependencies. End-to-end tests are required here (they fail, not skip,
# when a tool is missing).
# The race-detector pass, then the end-to-end pass. (Side by side they were
# 16 % faster, but opencryptoki 3.8's C_Initialize crashed under that load.)
test: deps tools tools-ratify tools-containerd
	@$(MAKE) --no-print-directory test-unit
	@$(MAKE) --no-print-directory test-e2e
	cd interop/gatekeeper && $(TESTENV) $(GO) test -count=1 ./...

test-unit:
	$(TESTENV) $(GO) test -count=1 -race $(UNIT_PKGS)

test-e2e:
	$(TESTENV) $(GO) test -count=1 $(E2E_PKGS)

# Only the Ratify verifier: unit tests and end to end with the real Ratify CLI.
e2e-ratify: deps tools-ratify
	$(TESTENV) $(GO) test -count=1 ./ratifyverifier/ ./cmd/notation-pkcs11-ratify/

# Only the containerd verifier: unit tests and end to end with real containerd.
e2e-containerd: deps tools-containerd
	$(TESTENV) $(GO) test -count=1 ./containerdverifier/ ./cmd/notation-pkcs11-containerd/

# Kyverno's notary verifyImages against the plugin's signatures (opt-in: the
# Kyverno CLI is a 16-minute cold build, see docs/containerd.md).
e2e-kyverno: deps tools
	@scripts/tools.sh kyverno >/dev/null
	$(TESTENV) NOTATION_PKCS11_KYVERNO=$(TOOLS)/kyverno $(GO) test -count=1 -run TestE2EKyvernoNotary ./cmd/notation-pkcs11-containerd/

# Unit tests only: no HSM, no peer tools.
unit:
	$(GO) test ./pki/ ./plugin/ ./internal/testpki/ ./trustpolicy/... ./revocation/ ./internal/testtsa/ ./ratifyverifier/ ./containerdverifier/

demo: deps tools build
	NOTATION_PKCS11_TOOLS_BIN=$(TOOLS) $(GO) run ./internal/demo -plugin $(BIN) -trustpolicy bin/trustpolicy -dir .demo

# Whole-command signing timings against the peers, then the library
# benchmarks whose ratios the README quotes (each measured in one run).
bench: deps tools tools-ratify tools-containerd build
	NOTATION_PKCS11_TOOLS_BIN=$(TOOLS) $(GO) run ./internal/bench -plugin $(BIN) -n 30
	$(GO) test -run '^$$' -bench 'Ratios|Select10k' -benchtime 1x ./trustpolicy/
	$(GO) test -run '^$$' -bench 'CRL1M_Ratios' -benchtime 1x ./revocation/
	$(GO) test -run '^$$' -bench 'CRL1M_Lookup' ./revocation/
	$(TESTENV) $(GO) test -run '^$$' -bench RatifyLatency -benchtime 30x ./cmd/notation-pkcs11-ratify/
	$(TESTENV) $(GO) test -run '^$$' -bench ContainerdVerifierLatency -benchtime 30x ./cmd/notation-pkcs11-containerd/
	$(TESTENV) $(GO) test -run '^$$' -bench TokenSign -benchtime 20x ./cmd/notation-pkcs11/
	NOTATION_PKCS11_TOOLS_BIN=$(TOOLS) $(GO) run ./internal/bench/release -trustpolicy bin/trustpolicy
	NOTATION_PKCS11_TOOLS_BIN=$(TOOLS) $(GO) run ./internal/bench/serve -trustpolicy bin/trustpolicy

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
	$(GO) test -run XXX -fuzz FuzzParseConfig -fuzztime 30s ./containerdverifier/
	$(GO) test -run XXX -fuzz FuzzReadDescriptor -fuzztime 30s ./containerdverifier/
	$(GO) test -run XXX -fuzz FuzzParseKey -fuzztime 30s ./admission/

clean:
	rm -rf bin .demo
