# berth: two commands. `make run` builds berth and starts the main job;
# `make test` installs what the tests need and runs every check CI runs.

GO           ?= go
BIN          := bin/berth
TOOLS        := $(CURDIR)/bin/tools
STATICCHECK  := honnef.co/go/tools/cmd/staticcheck@v0.8.2
VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS      := -s -w -X github.com/berth-dev/berth/internal/cli.Version=$(VERSION)
export BERTH_ROOT ?= $(if $(filter 0,$(shell id -u)),/var/lib/berth,$(HOME)/.local/share/berth)

.PHONY: all build install run test deps lint unit bench clean

all: build

# The binary is static (no cgo): SQLite is modernc.org/sqlite, pure Go.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/berth

install: build
	@if [ "$$(id -u)" = 0 ]; then install -m 0755 $(BIN) /usr/local/bin/berth && echo "installed /usr/local/bin/berth"; \
	else mkdir -p $(HOME)/.local/bin && install -m 0755 $(BIN) $(HOME)/.local/bin/berth && echo "installed $(HOME)/.local/bin/berth"; fi

run: install
	@./hack/run.sh $(BIN)

# Tests run with cgo on: the race detector needs it.
test: deps lint unit

deps:
	@./hack/deps.sh

lint:
	$(GO) vet ./...
	GOBIN=$(TOOLS) $(GO) install $(STATICCHECK)
	$(TOOLS)/staticcheck ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "not gofmt-formatted:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

unit:
	CGO_ENABLED=1 $(GO) test -race -timeout 15m ./...

bench:
	@echo "benchmarks: ./bench/load.sh (see bench/README.md)"

clean:
	rm -rf bin
