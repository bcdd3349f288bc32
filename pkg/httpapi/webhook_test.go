package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
	"github.com/streamhook/fastpix-receiver/pkg/ingest"
)

const testSecret = "ZGVtby1zZWNyZXQ="

// memWriter stores in memory, once per event id, or fails with err.
type memWriter struct {
	mu    sync.Mutex
	items map[string]eventstore.Record
	err   error
}

func (m *memWriter) Put(_ context.Context, r eventstore.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if _, ok := m.items[r.EventID]; ok {
		return eventstore.ErrDuplicate
	}
	if m.items == nil {
		m.items = map[string]eventstore.Record{}
	}
	m.items[r.EventID] = r
	return nil
}

func newWebhook(t *testing.T, w eventstore.Writer, keys ingest.Keys, logs *bytes.Buffer) *httpapi.Webhook {
	t.Helper()
	if keys == nil {
		v, err := fastpix.NewVerifier(testSecret)
		if err != nil {
			t.Fatal(err)
		}
		keys = ingest.StaticKeys{V: v}
	}
	return &httpapi.Webhook{
		Receiver: &ingest.Receiver{Keys: keys, Store: w},
		Logger:   slog.New(slog.NewJSONHandler(logs, nil)),
	}
}

func post(body string, headers map[string]string) events.APIGatewayV2HTTPRequest {
	req := events.APIGatewayV2HTTPRequest{
		RouteKey: "POST /webhooks/fastpix",
		RawPath:  "/webhooks/fastpix",
		Headers:  headers,
		Body:     body,
	}
	req.RequestContext.HTTP.Method = http.MethodPost
	req.RequestContext.RequestID = "req-1"
	return req
}

func signed(t *testing.T, body string) map[string]string {
	t.Helper()
	sig, err := fastpix.Sign(testSecret, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"fastpix-signature": sig, "content-type": "application/json"}
}

const event = `{"id":"e1","type":"video.live_stream.active","object":{"type":"live","id":"s1"},"data":{"streamId":"s1","streamKey":"FP_live_key"}}`

func TestWebhookAnswers(t *testing.T) {
	sig := signed(t, event)["fastpix-signature"]
	b64 := base64.StdEncoding.EncodeToString([]byte(event))
	tests := []struct {
		name     string
		req      func() events.APIGatewayV2HTTPRequest
		storeErr error
		noSecret bool
		status   int
		answer   map[string]string
		stored   int
	}{
		{
			name:   "new event",
			req:    func() events.APIGatewayV2HTTPRequest { return post(event, signed(t, event)) },
			status: 200, answer: map[string]string{"status": "accepted", "eventId": "e1"}, stored: 1,
		},
		{
			name:   "header as FastPix writes it",
			req:    func() events.APIGatewayV2HTTPRequest { return post(event, map[string]string{"FastPix-Signature": sig}) },
			status: 200, answer: map[string]string{"status": "accepted", "eventId": "e1"}, stored: 1,
		},
		{
			name:   "header in odd case",
			req:    func() events.APIGatewayV2HTTPRequest { return post(event, map[string]string{"FASTPIX-signature": sig}) },
			status: 200, answer: map[string]string{"status": "accepted", "eventId": "e1"}, stored: 1,
		},
		{
			name: "base64-encoded body",
			req: func() events.APIGatewayV2HTTPRequest {
				r := post(b64, signed(t, event))
				r.IsBase64Encoded = true
				return r
			},
			status: 200, answer: map[string]string{"status": "accepted", "eventId": "e1"}, stored: 1,
		},
		{
			name:   "empty probe",
			req:    func() events.APIGatewayV2HTTPRequest { return post("", nil) },
			status: 200, answer: map[string]string{"status": "ok"},
		},
		{
			name:   "{} probe",
			req:    func() events.APIGatewayV2HTTPRequest { return post("{}", nil) },
			status: 200, answer: map[string]string{"status": "ok"},
		},
		{
			name:   "missing signature",
			req:    func() events.APIGatewayV2HTTPRequest { return post(event, nil) },
			status: 401, answer: map[string]string{"status": "rejected", "error": "missing signature"},
		},
		{
			name: "wrong signature",
			req: func() events.APIGatewayV2HTTPRequest {
				return post(event, map[string]string{"fastpix-signature": "SXTZYhjRshplUTerYmYX0D3d2LSTG3PWD2lY6XFLzd0="})
			},
			status: 401, answer: map[string]string{"status": "rejected", "error": "invalid signature"},
		},
		{
			name:   "signed, not an object",
			req:    func() events.APIGatewayV2HTTPRequest { return post(`["x"]`, signed(t, `["x"]`)) },
			status: 400, answer: map[string]string{"status": "rejected", "error": "body is not a JSON object"},
		},
		{
			name: "signed, id not a string",
			req: func() events.APIGatewayV2HTTPRequest {
				b := `{"id":1,"type":"video.live_stream.active"}`
				return post(b, signed(t, b))
			},
			status: 400, answer: map[string]string{"status": "rejected", "error": "event id missing, empty or not a string"},
		},
		{
			name: "signed, type empty",
			req: func() events.APIGatewayV2HTTPRequest {
				b := `{"id":"e1","type":""}`
				return post(b, signed(t, b))
			},
			status: 400, answer: map[string]string{"status": "rejected", "error": "event type missing, empty or not a string"},
		},
		{
			name: "body over 1 MiB",
			req: func() events.APIGatewayV2HTTPRequest {
				b := `{"id":"e1","type":"t","pad":"` + strings.Repeat("x", httpapi.MaxBodyBytes) + `"}`
				return post(b, signed(t, b))
			},
			status: 413, answer: map[string]string{"status": "rejected", "error": "body larger than 1 MiB"},
		},
		{
			name: "base64 body over 1 MiB",
			req: func() events.APIGatewayV2HTTPRequest {
				r := post(base64.StdEncoding.EncodeToString(make([]byte, httpapi.MaxBodyBytes+1)), nil)
				r.IsBase64Encoded = true
				return r
			},
			status: 413, answer: map[string]string{"status": "rejected", "error": "body larger than 1 MiB"},
		},
		{
			name: "base64 flag on a body that is not base64",
			req: func() events.APIGatewayV2HTTPRequest {
				r := post(event, signed(t, event))
				r.IsBase64Encoded = true
				return r
			},
			status: 400, answer: map[string]string{"status": "rejected", "error": "body flagged base64 is not base64"},
		},
		{
			name: "GET",
			req: func() events.APIGatewayV2HTTPRequest {
				r := post("", nil)
				r.RequestContext.HTTP.Method = http.MethodGet
				return r
			},
			status: 405, answer: map[string]string{"status": "rejected", "error": httpapi.MethodNotAllowedMessage},
		},
		{
			name:     "store unavailable",
			req:      func() events.APIGatewayV2HTTPRequest { return post(event, signed(t, event)) },
			storeErr: errors.New("dial tcp 127.0.0.1:1: connection refused"),
			status:   503, answer: map[string]string{"status": "error", "eventId": "e1", "error": "event not stored; retry later"},
		},
		{
			name:     "no secret configured",
			req:      func() events.APIGatewayV2HTTPRequest { return post(event, signed(t, event)) },
			noSecret: true,
			status:   500, answer: map[string]string{"status": "error", "error": "receiver not configured; retry later"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &memWriter{err: tt.storeErr}
			var keys ingest.Keys
			if tt.noSecret {
				keys = ingest.StaticKeys{Err: fastpix.ErrNoSecret}
			}
			var logs bytes.Buffer
			h := newWebhook(t, store, keys, &logs)
			resp, err := h.Handle(context.Background(), tt.req())
			if err != nil {
				t.Fatalf("Handle returned an error (Lambda would answer 502): %v", err)
			}
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d (%s)", resp.StatusCode, tt.status, resp.Body)
			}
			var got map[string]string
			if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
				t.Fatalf("body %q: %v", resp.Body, err)
			}
			if len(got) != len(tt.answer) {
				t.Errorf("answer = %v, want %v", got, tt.answer)
			}
			for k, v := range tt.answer {
				if got[k] != v {
					t.Errorf("answer[%s] = %q, want %q", k, got[k], v)
				}
			}
			if resp.Headers["Content-Type"] != "application/json" {
				t.Errorf("content type %q", resp.Headers["Content-Type"])
			}
			if tt.status == 405 && resp.Headers["Allow"] != "POST" {
				t.Errorf("405 without Allow: POST")
			}
			if len(store.items) != tt.stored {
				t.Errorf("stored %d, want %d", len(store.items), tt.stored)
			}
			for _, r := range store.items {
				if strings.Contains(r.Payload, "FP_live_key") {
					t.Errorf("stream key stored: %s", r.Payload)
				}
			}
			checkLogLine(t, logs.String(), tt.status)
		})
	}
}

// One JSON line per request, with the outcome, and never the body or a
// credential.
func checkLogLine(t *testing.T, logs string, status int) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d log lines, want 1:\n%s", len(lines), logs)
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatalf("log line is not JSON: %v", err)
	}
	if line["status"] != float64(status) || line["outcome"] == "" || line["requestId"] != "req-1" {
		t.Errorf("log line = %v", line)
	}
	if _, ok := line["durationMs"]; !ok {
		t.Errorf("log line has no duration: %v", line)
	}
	for _, leak := range []string{"FP_live_key", testSecret, "streamKey"} {
		if strings.Contains(lines[0], leak) {
			t.Errorf("log line leaks %q: %s", leak, lines[0])
		}
	}
}

func TestWebhookDuplicate(t *testing.T) {
	store := &memWriter{}
	var logs bytes.Buffer
	h := newWebhook(t, store, nil, &logs)
	for i, want := range []string{"accepted", "duplicate", "duplicate"} {
		resp, _ := h.Handle(context.Background(), post(event, signed(t, event)))
		if resp.StatusCode != 200 || !strings.Contains(resp.Body, `"status":"`+want+`"`) {
			t.Errorf("delivery %d: %d %s", i, resp.StatusCode, resp.Body)
		}
	}
	if len(store.items) != 1 {
		t.Errorf("stored %d", len(store.items))
	}
}

func TestHeader(t *testing.T) {
	tests := []struct {
		headers map[string]string
		want    string
	}{
		{map[string]string{"FastPix-Signature": "a"}, "a"},
		{map[string]string{"fastpix-signature": "b"}, "b"},
		{map[string]string{"FASTPIX-SIGNATURE": "c"}, "c"},
		{map[string]string{"x-other": "d"}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := httpapi.Header(tt.headers, fastpix.SignatureHeader); got != tt.want {
			t.Errorf("Header(%v) = %q, want %q", tt.headers, got, tt.want)
		}
	}
}

// stalledWriter is a store that never answers: it returns only when its
// context ends, as a PutItem on a connection nobody answers does.
type stalledWriter struct{}

func (stalledWriter) Put(ctx context.Context, _ eventstore.Record) error {
	<-ctx.Done()
	return ctx.Err()
}

// A store that stalls is given up on before the invocation's deadline, so
// the function itself answers 503 (FastPix retries), logs why and counts
// StorageErrors, instead of being killed by Lambda at its timeout with
// none of the three.
func TestWebhookStalledStoreAnswersBeforeTheDeadline(t *testing.T) {
	var logs bytes.Buffer
	h := newWebhook(t, stalledWriter{}, nil, &logs)
	h.Receiver.(*ingest.Receiver).DeadlineMargin = 200 * time.Millisecond
	var seen outcomes
	h.Observer = &seen
	// What Lambda gives the handler: a context that ends at the function's
	// timeout (here 1 s, below the store's own 10 s).
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	resp, err := h.Handle(ctx, post(event, signed(t, event)))
	if ctxErr := ctx.Err(); ctxErr != nil {
		t.Fatalf("the handler answered after the invocation's deadline (%v)", ctxErr)
	}
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("answer %d %s, %v; want 503", resp.StatusCode, resp.Body, err)
	}
	checkLogLine(t, logs.String(), http.StatusServiceUnavailable)
	if !strings.Contains(logs.String(), `"outcome":"unavailable"`) || !strings.Contains(logs.String(), "deadline exceeded") {
		t.Errorf("the log line does not say the store timed out: %s", logs.String())
	}
	if !slices.Equal(seen, outcomes{httpapi.OutcomeUnavailable}) {
		t.Errorf("observed %v, want [unavailable] (counted as StorageErrors)", seen)
	}
}

// outcomes records what the handler observed.
type outcomes []httpapi.Outcome

func (o *outcomes) ObserveWebhook(outcome httpapi.Outcome, _ string, _ int, _ time.Duration) {
	*o = append(*o, outcome)
}
