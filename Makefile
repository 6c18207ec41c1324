# lxcplan — build, test, lint and the demo. See README.md.
GO      ?= go
export PATH := /usr/local/go/bin:$(PATH)
BIN     := bin
LDFLAGS := -s -w -X main.version=$(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build test test-short test-update lint demo fuzz bench clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/lxcplan ./cmd/lxcplan
	$(GO) build -o $(BIN)/pvelab ./cmd/pvelab

# The README's test command: every tier that this machine can run. The lab
# tiers run when PVELAB_E2E=1 (as root; .ci/run sets it); they share one lab
# through a lock, so their packages wait for each other: hence the timeout.
test: lint
	$(GO) test -count=1 -timeout 60m ./...

# Unit tiers only (no lab, no real sshd).
test-short:
	$(GO) test -short ./...

test-update:
	$(GO) test ./... -update

lint:
	@out=$$(gofmt -l cmd engine schema recipes plans); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Long fuzz runs stay out of CI; seed corpora run in every `go test`.
FUZZTIME ?= 5m
fuzz:
	$(GO) test ./engine/manifest -run '^$$' -fuzz FuzzLoadStack -fuzztime $(FUZZTIME)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# README command 1: the lab (as root) or, where it cannot run, simulated nodes.
demo: build
	./scripts/demo.sh

# Apply built-in recipes on the lab (root) and check each is healthy.
# RECIPES=all (every recipe) or ci (a quick subset of 12).
RECIPES ?= all
.PHONY: test-recipes
test-recipes:
	PVELAB_E2E=1 LXCPLAN_TEST_RECIPES=$(RECIPES) $(GO) test -count=1 -run '^TestRecipesLab$$' -v -timeout 40m ./cmd/lxcplan

clean:
	rm -rf $(BIN)
