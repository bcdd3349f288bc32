# The two commands a newcomer needs: `make run` and `make test`.
# Everything fetched lands in .cache/ (ignored), once.

GO ?= go
export FPR_CACHE := $(CURDIR)/.cache

.PHONY: all deps test vet run demo build bench fuzz soak clean

all: test

## deps: fetch DynamoDB Local, goaws and the Lambda runtime emulator into .cache/ (once)
deps:
	@infra/emulator/fetch.sh

## vet: gofmt and go vet
vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

## test: every test, unit and integration (against DynamoDB Local and goaws)
test: deps vet
	$(GO) test -count=1 ./...

# --- ingest (issue 2) ---

# --- notifier (issue 3) ---

# --- SAM build (issue 4) ---

# --- local stack and query API (issue 5) ---

# --- proof and benchmarks (issue 6) ---

# --- operations (issue 7) ---

clean:
	rm -rf .aws-sam bin
