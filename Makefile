# kforge developer targets. `make help` lists them.
#
# The hashicorp/aws provider comes from the Terraform registry unless a local
# provider mirror is found (KFORGE_PLUGIN_DIR, or one in the places
# `scripts/install-deps --plugin-dir` looks); tests and local mode then run
# offline.

GO         ?= go
BIN        ?= bin/kforge
GOTESTFLAGS ?=
# Go tools scripts/install-deps installs (staticcheck, trivy) live here.
GO_BIN_DIR := $(or $(shell $(GO) env GOBIN),$(shell $(GO) env GOPATH)/bin)
export PATH := $(GO_BIN_DIR):$(PATH)
ifeq ($(origin KFORGE_PLUGIN_DIR),undefined)
KFORGE_PLUGIN_DIR := $(shell scripts/install-deps --plugin-dir)
endif
export KFORGE_PLUGIN_DIR

.PHONY: pins help deps build local down-local test unit lint tf-check tf-test e2e golden fuzz fuzz-short bench e2e-aws lab clean conformance

help: ## List the targets.
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

LDFLAGS    = -X github.com/kforge/kforge/internal/cli.Version=$(VERSION)

build: ## Build bin/kforge, and the node agents bin/kforge-linux-amd64 and -arm64 it uploads.
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/kforge
	$(MAKE) --no-print-directory agents

# Static linux builds, one per node architecture; kforge finds them next to
# itself (kforge-linux-<arch>) when an environment runs on that architecture.
agents: ## Cross-compile the node agents bin/kforge-linux-amd64 and bin/kforge-linux-arm64.
	for arch in amd64 arm64; do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(dir $(BIN))kforge-linux-$$arch ./cmd/kforge || exit 1; \
	done

local: build ## Bring the whole cluster's infrastructure up on the local AWS emulator.
	./$(BIN) up local --yes

down-local: build ## Destroy the local cluster and stop the emulator.
	./$(BIN) down local --yes

deps: ## Install what the tests need (scripts/install-deps); quick when all is there.
	scripts/install-deps

test: deps lint tf-check unit tf-test fuzz-short e2e conformance ## Every check and test CI runs, after installing what they need.

lint: ## gofmt, go vet, staticcheck, shellcheck, Trivy over terraform/.
	scripts/lint
	scripts/security-scan

unit: ## Go unit tests (no full terraform apply).
	$(GO) test -short -count=1 ./...

tf-check: ## terraform fmt -check and validate for every module.
	scripts/tf-check

tf-test: ## terraform test (mock provider) for every module that has tests, then the shared input rules through every module.
	scripts/tf-test
	$(GO) test -count=1 -run '^TestSharedRulesInTerraform$$' ./internal/config

conformance: ## Real kubeadm, etcd, kube-apiserver, scheduler, kubelet checks and kubectl judge every node artifact, for every supported minor (binaries built once, cached; docs/CONFORMANCE.md); then the drain, roll and drainer tests against a real API server.
	$(GO) test -count=1 -timeout 180m ./test/conformance/...
	KFORGE_REQUIRE_APISERVER=1 $(GO) test -count=1 -timeout 20m $(APISERVER_PKGS)

# The packages whose tests start a real API server (internal/testutil/kubeapi);
# `make unit` skips those tests (-short), and runs before the binaries exist.
APISERVER_PKGS = ./internal/testutil/kubeapi/ $(sort $(dir $(shell grep -rl --include='*_test.go' 'internal/testutil/kubeapi"' .)))

e2e: ## Full applies against the local emulator, checked through the AWS API.
	$(GO) test -count=1 -timeout 75m -p 2 ./test/e2e/...

# Only packages whose tests use internal/testutil/golden take -update.
GOLDEN_PKGS = $(sort $(dir $(shell grep -rl --include='*_test.go' 'internal/testutil/golden"' .)))

pins: ## Resolve and check the digests of every downloaded artefact (needs network and crane).
	$(GO) run ./internal/upstream/cmd/pins

golden: ## Rewrite golden files after an intended change; review the diff.
	$(GO) test -short -count=1 $(GOLDEN_PKGS) -update

FUZZTIME ?= 30s

fuzz: ## Fuzz every parser of untrusted input for FUZZTIME each.
	$(GO) test ./internal/config -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME)
	for target in FuzzTerraformStream FuzzDecodeOutputs FuzzPorkbunAnswer; do \
		$(GO) test ./test/e2e/reliability/fuzz -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

# A count, not a duration: Go 1.26's fuzzing coordinator can fail a
# duration-bound run with a bare "context deadline exceeded" when a busy
# machine's worker misses the deadline (golang/go#75804, fixed in Go 1.27);
# a count has no deadline to race.
fuzz-short: ## The fuzz targets briefly, as CI runs them.
	$(MAKE) fuzz FUZZTIME=20000x

bench: build ## Benchmarks of kforge itself; prints ratios.
	bench/run

e2e-aws: build ## The real thing on an AWS account (skips without credentials).
	test/aws/run

lab: ## Real nodes from the emulated ASGs on this machine (root; docs/LAB.md).
	scripts/lab

clean: ## Remove build output and local work directories.
	rm -rf bin .kforge
