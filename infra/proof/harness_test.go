package proof

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
	"github.com/streamhook/fastpix-receiver/pkg/ingest"
)

// The signing secret of every proof (base64, as the dashboard shows it), and
// another one a forger might hold.
var (
	proofSecret = base64.StdEncoding.EncodeToString([]byte("proof-signing-secret-0001"))
	otherSecret = base64.StdEncoding.EncodeToString([]byte("not-the-receivers-secret"))
)

// Credential values planted in the proofs' events. None of them may reach
// the table or a log line.
var credentials = []string{
	"sk-PROOF-4f1c9e-stream-key",
	"srt-PROOF-77aa-secret",
	"srtpb-PROOF-91bd-playback",
	"sim-PROOF-1234-simulcast-key",
}

// liveEvent is a signed-to-be live stream event as FastPix sends it, with
// every kind of credential FastPix puts in one, in FastPix's field order.
func liveEvent(id, typ, streamID string, createdAt time.Time) []byte {
	return fmt.Appendf(nil, `{
"type": %q,
"request_id": null,
"object": {"type": "live", "id": %q},
"id": %q,
"workspace": {"name": "Proof", "id": "ws-proof"},
"data": {
  "test": false,
  "streamId": %q,
  "status": "active",
  "streamKey": %q,
  "srtSecret": %q,
  "srtPlaybackResponse": {"srtPlaybackStreamId": "pb-1", "srtPlaybackSecret": %q},
  "simulcastResponses": [{"simulcastId": "sim-1", "url": "rtmps://example.invalid/live", "streamKey": %q, "isEnabled": true}],
  "reconnectWindow": 60
},
"createdAt": %q,
"attempts": [],
"accessor": null
}`, typ, streamID, id, streamID, credentials[0], credentials[1], credentials[2], credentials[3], createdAt.UTC().Format(time.RFC3339Nano))
}

func sign(t testing.TB, secret string, body []byte) string {
	t.Helper()
	sig, err := fastpix.Sign(secret, body)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return sig
}

// post is the API Gateway (payload 2.0) request of one delivery, with the
// signature header spelt as API Gateway passes it (lower case).
func post(body []byte, sig string) events.APIGatewayV2HTTPRequest {
	req := events.APIGatewayV2HTTPRequest{
		RawPath: "/webhooks/fastpix",
		Body:    string(body),
		Headers: map[string]string{"content-type": "application/json"},
	}
	req.RequestContext.HTTP.Method = http.MethodPost
	req.RequestContext.RequestID = "proof"
	if sig != "" {
		req.Headers["fastpix-signature"] = sig
	}
	return req
}

// requestCounter is the DynamoDB client's HTTP client: it counts every
// request that leaves for AWS, retries included, by operation.
type requestCounter struct {
	inner aws.HTTPClient
	mu    sync.Mutex
	byOp  map[string]int
}

func newRequestCounter() *requestCounter {
	return &requestCounter{inner: awshttp.NewBuildableClient(), byOp: map[string]int{}}
}

func (c *requestCounter) Do(r *http.Request) (*http.Response, error) {
	op := r.Header.Get("X-Amz-Target") // e.g. DynamoDB_20120810.PutItem
	if i := strings.IndexByte(op, '.'); i >= 0 {
		op = op[i+1:]
	}
	c.mu.Lock()
	c.byOp[op]++
	c.mu.Unlock()
	return c.inner.Do(r)
}

// snapshot returns the counts so far and starts again from zero.
func (c *requestCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.byOp
	c.byOp = map[string]int{}
	return out
}

// rig is the webhook as functions/webhook wires it, over a fresh events
// table in a real DynamoDB Local, with its log captured.
type rig struct {
	client *dynamodb.Client
	table  string
	hook   *httpapi.Webhook
	logs   *testenv.SyncBuffer
}

func newRig(t testing.TB, client *dynamodb.Client, storeTimeout time.Duration) *rig {
	t.Helper()
	v, err := fastpix.NewVerifier(proofSecret)
	if err != nil {
		t.Fatal(err)
	}
	table := testenv.CreateTable(t, client, "EventLogTable")
	logs := &testenv.SyncBuffer{}
	return &rig{
		client: client,
		table:  table,
		logs:   logs,
		hook: &httpapi.Webhook{
			Receiver: &ingest.Receiver{
				Keys:         ingest.StaticKeys{V: v},
				Store:        &eventstore.DynamoDB{Client: client, Table: table},
				StoreTimeout: storeTimeout,
			},
			Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		},
	}
}

// items reads the whole table with consistent reads, by event id.
func (r *rig) items(t testing.TB) map[string]map[string]types.AttributeValue {
	t.Helper()
	out := map[string]map[string]types.AttributeValue{}
	p := dynamodb.NewScanPaginator(r.client, &dynamodb.ScanInput{TableName: aws.String(r.table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		page, err := p.NextPage(ctx)
		cancel()
		if err != nil {
			t.Fatalf("scan %s: %v", r.table, err)
		}
		for _, it := range page.Items {
			rec, err := eventstore.RecordFromItem(it)
			if err != nil {
				t.Fatalf("stored item unreadable: %v", err)
			}
			out[rec.EventID] = it
		}
	}
	return out
}

// noCredentials fails the test if any planted credential value occurs in s.
func noCredentials(t testing.TB, where, s string) {
	t.Helper()
	for _, c := range credentials {
		if strings.Contains(s, c) {
			t.Errorf("credential %q found in %s", c, where)
		}
	}
}

// answer decodes the JSON body of a webhook response.
func answer(t testing.TB, resp events.APIGatewayV2HTTPResponse) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &m); err != nil {
		t.Fatalf("response body is not JSON: %q", resp.Body)
	}
	return m
}
