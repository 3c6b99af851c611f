# berth: two commands. `make run` builds berth and starts the main job;
# `make test` installs what the tests need and runs every check CI runs.

GO           ?= go
BIN          := bin/berth
TOOLS        := $(CURDIR)/bin/tools
STATICCHECK  := honnef.co/go/tools/cmd/staticcheck@v0.8.2
VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS      := -s -w -X github.com/berth-dev/berth/internal/cli.Version=$(VERSION)
export BERTH_ROOT ?= $(if $(filter 0,$(shell id -u)),/var/lib/berth,$(HOME)/.local/share/berth)

.PHONY: all build install run test deps lint unit bench clean web

all: build

# The binary is static (no cgo): SQLite is modernc.org/sqlite, pure Go.
build: web
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/berth

install: build
	@if [ "$$(id -u)" = 0 ]; then install -m 0755 $(BIN) /usr/local/bin/berth && echo "installed /usr/local/bin/berth"; \
	else mkdir -p $(HOME)/.local/bin && install -m 0755 $(BIN) $(HOME)/.local/bin/berth && echo "installed $(HOME)/.local/bin/berth"; fi

run: install
	@./hack/run.sh $(BIN)

# The dashboard's terminal is xterm.js from npm (pinned in web/package-lock.json),
# copied where go:embed finds it (ui/assets/vendor, not committed); npm ci also
# brings playwright-core for the browser tests. It runs again only when the lock
# file changes.
WEB_VENDOR := ui/assets/vendor/xterm.js ui/assets/vendor/xterm.css ui/assets/vendor/addon-fit.js
web: $(WEB_VENDOR)

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	@touch $@

$(WEB_VENDOR): web/node_modules/.package-lock.json
	@mkdir -p ui/assets/vendor
	cp web/node_modules/@xterm/xterm/lib/xterm.js web/node_modules/@xterm/xterm/css/xterm.css \
	   web/node_modules/@xterm/addon-fit/lib/addon-fit.js ui/assets/vendor/

# Tests run with cgo on: the race detector needs it.
test: deps lint unit

deps:
	@./hack/deps.sh

lint:
	$(GO) vet ./...
	GOBIN=$(TOOLS) $(GO) install $(STATICCHECK)
	$(TOOLS)/staticcheck ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "not gofmt-formatted:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

unit: web
	CGO_ENABLED=1 $(GO) test -race -timeout 15m ./...

bench:
	@echo "benchmarks: ./bench/load.sh (see bench/README.md)"

clean:
	rm -rf bin ui/assets/vendor web/node_modules
