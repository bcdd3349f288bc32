package proof

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamhook/fastpix-receiver/infra/awslocal"
	"github.com/streamhook/fastpix-receiver/infra/localstack"
	"github.com/streamhook/fastpix-receiver/internal/app/webhook"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
	"github.com/streamhook/fastpix-receiver/pkg/ingest"
	"github.com/streamhook/fastpix-receiver/pkg/secrets"
)

// e2eWarmup is how many untimed pairs each series sends first: DynamoDB
// Local is a JVM, and its first few hundred writes run interpreted code.
const e2eWarmup = 300

// BenchmarkEndToEnd measures what the receiver adds to the one write it
// cannot avoid. One iteration is one pair (and its parts, below), timed each on its own from the
// same goroutine against the same DynamoDB Local:
//
//   - e2e: a signed ~1 KB live-stream event POSTed over real HTTP (net/http,
//     keep-alive) to the local stack's POST /webhooks/fastpix: the gateway's
//     request-to-payload-2.0 conversion, the webhook handler (verify, parse,
//     redact, record, JSON log line) and its conditional PutItem, until the
//     whole answer is read;
//   - floor: the least a webhook can be: the same POST to a bare net/http
//     handler that reads the body and makes the same conditional PutItem
//     of the item an equivalent event becomes (eventstore.Record.Item), and
//     answers 200;
//   - put: that conditional PutItem alone, with a client built as the
//     stack builds its own.
//
// Beside them, for where the added time goes, two parts of e2e: hop, the
// same POST to the same Gateway with a route that answers at once (the HTTP
// round trip and the Gateway's conversion both ways), and handler,
// (*httpapi.Webhook).Handle called in-process with a PutItem that returns
// at once. The calls of an iteration rotate their order so that the
// machine's noise, the JIT and the table's growth fall on all alike.
//
// Three sub-benchmarks, poller-off first so that the notifier has no
// backlog then:
//
//   - poller-off: the same Gateway and webhook wiring as the stack, on its
//     own listener, writing to a second events table in the stack's DynamoDB
//     Local that no poller reads (the stack's poller only reads its own,
//     idle, table's stream: four empty GetRecords a second);
//   - poller-on-fleet: the stack's own HTTP API and events table, as the
//     system runs: every write of the series rings the notifier, which
//     brings the stream's state up to date from its log and publishes to
//     goaws, all on the same two cores; the events are spread over 500
//     streams (a fleet);
//   - poller-on-one-stream: the same, every event about one stream, a
//     thousand a second: the notifier's hardest case (each pass reads the
//     stream's look-back).
//
// Nothing is asserted about time: the numbers are reported as metrics
// (p50-e2e-ms, p50-floor-ms, p50-put-ms, p50-ratio (e2e/floor),
// p50-put-ratio (e2e/put), p50-added-ms, the p99s and means, p50-hop-ms,
// p50-handler-ms).
// Run with a fixed count, e.g. -benchtime 2000x (make bench-e2e).
func BenchmarkEndToEnd(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The functions log as deployed (JSON), only not to a terminal.
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	st, err := localstack.Start(ctx, localstack.Config{LogDir: b.TempDir(), Logger: logger, Secret: proofSecret})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Stop) // after the tables' clean-ups, which need DynamoDB Local
	// The stack's client settings: testenv.AWSConfig is the config
	// localstack.Start builds, with the same endpoint.
	ddb := testenv.DynamoDBAt(st.DynamoDBEndpoint)

	offTable := testenv.CreateTable(b, ddb, "EventLogTable")
	offURL := serveWebhook(b, st.DynamoDBEndpoint, offTable, logger)

	b.Run("poller-off", func(b *testing.B) { measureE2E(b, offURL, ddb, offTable, fleetStreams) })
	b.Run("poller-on-fleet", func(b *testing.B) { measureE2E(b, st.URL, ddb, st.EventsTable, fleetStreams) })
	b.Run("poller-on-one-stream", func(b *testing.B) { measureE2E(b, st.URL, ddb, st.EventsTable, 1) })
}

// serveWebhook serves POST /webhooks/fastpix with the local stack's Gateway
// and the webhook built as localstack.Start builds it, over table.
func serveWebhook(b *testing.B, endpoint, table string, logger *slog.Logger) string {
	b.Helper()
	cfg := testenv.AWSConfig()
	cfg.BaseEndpoint = aws.String(endpoint)
	hook, err := webhook.New(webhook.Config{EventsTable: table, Retention: eventstore.DefaultRetention, Secret: secrets.Source{Value: proofSecret}}, cfg, logger, nil)
	if err != nil {
		b.Fatal(err)
	}
	return serveGateway(b, hook.Handle)
}

// serveGateway serves POST /webhooks/fastpix with the local stack's Gateway
// in front of h, as localstack.Start serves its routes.
func serveGateway(b *testing.B, h awslocal.HTTPHandler) string {
	b.Helper()
	gw := &awslocal.Gateway{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Routes: []awslocal.Route{
		{Method: http.MethodPost, Path: localstack.WebhookPath, Handler: h},
	}}
	return serveHTTP(b, gw)
}

// serveHTTP serves h on a free local port until the benchmark ends and
// gives its base URL.
func serveHTTP(b *testing.B, h http.Handler) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	b.Cleanup(func() { _ = srv.Close() })
	return "http://" + l.Addr().String()
}

// nopPut is a PutItem that succeeds at once.
type nopPut struct{}

func (nopPut) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return &dynamodb.PutItemOutput{}, nil
}

// deliver POSTs one signed delivery to url and times it until the whole
// answer is read; anything but 200 accepted is an error.
func deliver(client *http.Client, url string, p e2ePair) (time.Duration, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(p.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(fastpix.SignatureHeader, string(p.sig))
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(answer, []byte(`"status":"accepted"`)) {
		return 0, fmt.Errorf("POST %s answered %d %s, want 200 accepted", url, resp.StatusCode, answer)
	}
	return took, nil
}

// fleetStreams is how many streams a fleet series spreads its events over.
const fleetStreams = 500

// e2ePair is one iteration's inputs, built before any call is timed: the
// delivery, and the items of two equivalent events for the bare write and
// the floor.
type e2ePair struct {
	body, sig  []byte
	put, floor *dynamodb.PutItemInput
}

// kbEvent is liveEvent's video.live_stream.active, credentials and all,
// grown to about 1 KB with the stream settings FastPix's seed event carries.
func kbEvent(id, streamID string, createdAt time.Time) []byte {
	return bytes.Replace(liveEvent(id, "video.live_stream.active", streamID, createdAt),
		[]byte(`"reconnectWindow": 60`),
		[]byte(`"reconnectWindow": 60, "maxResolution": "1080p", "latencyMode": "standard", "maxDuration": 43200, "audioOnly": false,
  "playbackId": [{"id": "55d5b68e-508a-4adf-a01a-9420005ee796", "accessPolicy": "public"}]`), 1)
}

// newPair builds the i-th pair: a delivery and, for the bare write and the
// floor, the items of equivalent events (same size, other ids) as the
// handler builds them. The events are about one of streams streams.
func newPair(b *testing.B, run string, i, streams int, base time.Time, table string) e2ePair {
	at := base.Add(time.Duration(2*i) * time.Millisecond)
	stream := fmt.Sprintf("e2e-stream-%s-%d", run, i%streams)
	body := kbEvent(fmt.Sprintf("e2e-%s-%07d", run, i), stream, at)
	item := func(id string) *dynamodb.PutItemInput {
		twin := kbEvent(id, stream, at.Add(time.Millisecond))
		ev, err := fastpix.Parse(twin)
		if err != nil {
			b.Fatal(err)
		}
		redacted, err := fastpix.Redact(twin)
		if err != nil {
			b.Fatal(err)
		}
		rec, _ := eventstore.NewRecord(ev, redacted, time.Now(), eventstore.DefaultRetention, 0)
		return &dynamodb.PutItemInput{
			TableName: aws.String(table),
			Item:      rec.Item(),
			// eventstore.DynamoDB's condition: the write happens once per id.
			ConditionExpression: aws.String("attribute_not_exists(" + eventstore.KeyEventID + ")"),
		}
	}
	return e2ePair{
		body:  body,
		sig:   []byte(sign(b, proofSecret, body)),
		put:   item(fmt.Sprintf("put-%s-%07d", run, i)),
		floor: item(fmt.Sprintf("floor-%s-%07d", run, i)),
	}
}

// serveFloor serves the floor: a bare net/http handler that reads the
// body, makes the conditional PutItem of the pair being measured (set by
// the caller before each request) and answers 200.
func serveFloor(b *testing.B, ddb *dynamodb.Client, current func() *dynamodb.PutItemInput) string {
	b.Helper()
	return serveHTTP(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if _, err := ddb.PutItem(r.Context(), current()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"accepted"}`)
	})) + localstack.WebhookPath
}

func measureE2E(b *testing.B, baseURL string, ddb *dynamodb.Client, table string, streams int) {
	client := &http.Client{Timeout: 30 * time.Second} // DefaultTransport: keep-alive
	url := baseURL + localstack.WebhookPath
	run := fmt.Sprintf("%s-%d", strings.ReplaceAll(b.Name(), "/", "-"), time.Now().UnixNano())
	base := time.Now().UTC()

	put := func(p e2ePair) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		start := time.Now()
		_, err := ddb.PutItem(ctx, p.put)
		return time.Since(start), err
	}
	// The parts of e2e, for where the added time goes: the HTTP hop with
	// the Gateway's conversion both ways (a route that answers at once),
	// and the handler's own work with a PutItem that returns at once.
	hopURL := serveGateway(b, func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK, Body: `{"status":"accepted"}`,
			Headers: map[string]string{"Content-Type": "application/json"}}, nil
	}) + localstack.WebhookPath
	v, err := fastpix.NewVerifier(proofSecret)
	if err != nil {
		b.Fatal(err)
	}
	local := &httpapi.Webhook{
		Receiver: &ingest.Receiver{Keys: ingest.StaticKeys{V: v}, Store: &eventstore.DynamoDB{Client: nopPut{}, Table: table}},
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	hop := func(p e2ePair) (time.Duration, error) { return deliver(client, hopURL, p) }
	var current *dynamodb.PutItemInput
	floorURL := serveFloor(b, ddb, func() *dynamodb.PutItemInput { return current })
	floor := func(p e2ePair) (time.Duration, error) {
		current = p.floor
		return deliver(client, floorURL, p)
	}
	handle := func(p e2ePair) (time.Duration, error) {
		req := post(p.body, string(p.sig))
		start := time.Now()
		resp, err := local.Handle(context.Background(), req)
		took := time.Since(start)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("handler answered %d %s", resp.StatusCode, resp.Body)
		}
		return took, err
	}

	size := 0
	// pair runs the five, each timed on its own, in an order that rotates
	// so that none always goes first.
	pair := func(i int) (took [5]time.Duration) {
		p := newPair(b, run, i, streams, base, table)
		size = len(p.body)
		steps := [5]func(e2ePair) (time.Duration, error){
			func(p e2ePair) (time.Duration, error) { return deliver(client, url, p) }, put, hop, handle, floor,
		}
		for k := range steps {
			j := (k + i) % len(steps)
			d, err := steps[j](p)
			if err != nil {
				b.Fatal(err)
			}
			took[j] = d
		}
		return took
	}

	for i := range e2eWarmup {
		pair(i)
	}
	var series [5][]time.Duration // e2e, put, hop, handler, floor
	i := e2eWarmup
	for b.Loop() {
		took := pair(i)
		for k, d := range took {
			series[k] = append(series[k], d)
		}
		i++
	}
	b.StopTimer()

	se, sp, sh, sw, sf := summarize(series[0]), summarize(series[1]), summarize(series[2]), summarize(series[3]), summarize(series[4])
	b.ReportMetric(0, "ns/op") // an iteration is a pair built and sent: not a figure to read
	b.ReportMetric(ms(se.p50), "p50-e2e-ms")
	b.ReportMetric(ms(sf.p50), "p50-floor-ms")
	b.ReportMetric(ms(sp.p50), "p50-put-ms")
	b.ReportMetric(ms(se.p50)/ms(sf.p50), "p50-ratio")
	b.ReportMetric(ms(se.p50)/ms(sp.p50), "p50-put-ratio")
	b.ReportMetric(ms(se.p50)-ms(sf.p50), "p50-added-ms")
	b.ReportMetric(ms(se.p99), "p99-e2e-ms")
	b.ReportMetric(ms(sf.p99), "p99-floor-ms")
	b.ReportMetric(ms(sp.p99), "p99-put-ms")
	b.ReportMetric(ms(se.p99)/ms(sf.p99), "p99-ratio")
	b.ReportMetric(ms(se.mean), "mean-e2e-ms")
	b.ReportMetric(ms(sf.mean), "mean-floor-ms")
	b.ReportMetric(ms(sp.mean), "mean-put-ms")
	b.ReportMetric(ms(sh.p50), "p50-hop-ms")
	b.ReportMetric(ms(sw.p50), "p50-handler-ms")
	b.Logf("%d pairs after %d warm-up pairs, %d-byte events over %d stream(s): e2e p50 %v p99 %v mean %v; floor (bare HTTP + PutItem) p50 %v p99 %v mean %v; bare PutItem p50 %v p99 %v mean %v; p50 ratio to the floor %.3f (+%v), to the bare PutItem %.3f; parts (p50): HTTP hop + gateway %v, handler without the write %v",
		len(series[0]), e2eWarmup, size, streams, se.p50, se.p99, se.mean, sf.p50, sf.p99, sf.mean, sp.p50, sp.p99, sp.mean,
		ms(se.p50)/ms(sf.p50), se.p50-sf.p50, ms(se.p50)/ms(sp.p50), sh.p50, sw.p50)
}

type latencies struct{ p50, p99, mean time.Duration }

// summarize gives the nearest-rank percentiles and the mean.
func summarize(d []time.Duration) latencies {
	if len(d) == 0 {
		return latencies{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		return s[max(0, int(math.Ceil(p*float64(len(s))))-1)]
	}
	var sum time.Duration
	for _, v := range s {
		sum += v
	}
	return latencies{p50: rank(0.50), p99: rank(0.99), mean: sum / time.Duration(len(s))}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
