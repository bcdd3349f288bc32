package httpapi_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
	"github.com/streamhook/fastpix-receiver/pkg/ingest"
)

// benchEvent is a video.live_stream.active event as FastPix sends it, with
// credentials, grown to about size bytes by simulcast targets (each carries
// a streamKey, so the redactor's work grows with the body as in real life).
func benchEvent(size int) []byte {
	var sims []string
	head := `{"type":"video.live_stream.active","request_id":null,"object":{"type":"live","id":"a2ae2143-62a1-4eee-b888-4f1406148481"},"id":"8fa0e3ea-3d5c-4712-8428-803b532bbc33","workspace":{"name":"Development","id":"7c07598b-c27b-42e6-8b31-a334da54c387"},"data":{"test":false,"streamId":"a2ae2143-62a1-4eee-b888-4f1406148481","status":"active","audioOnly":false,"streamKey":"FP_TRgf4CswLZ9UcHH3yTxQ","srtSecret":"srt_9a8b7c6d5e4f","maxResolution":"1080p","createdAt":"2024-04-02T11:17:52.460858Z","reconnectWindow":60,"latencyMode":"standard","maxDuration":43200,"enableRecording":true,"playbackIds":[{"id":"55d5b68e-508a-4adf-a01a-9420005ee796","accessPolicy":"public"}],"srtPlaybackResponse":{"srtPlaybackStreamId":"pb-55d5b68e","srtPlaybackSecret":"pbs_1f2e3d4c5b6a"},"simulcastResponses":[`
	tail := `]},"createdAt":"2024-04-02T11:17:52.722812836Z","attempts":[],"accessor_source":null,"accessor":null}`
	n := len(head) + len(tail)
	for i := 0; n+70 < size; i++ {
		s := fmt.Sprintf(`{"simulcastId":"sim-%04d-62a1-4eee-b888","url":"rtmps://live.example.invalid:443/app","streamKey":"sk_%04d_4f1406148481","isEnabled":true}`, i, i)
		sims = append(sims, s)
		n += len(s) + 1
	}
	return []byte(head + strings.Join(sims, ",") + tail)
}

// benchNoPut is a DynamoDB client that accepts every PutItem without
// sending it: the real eventstore.DynamoDB still builds and checks the item.
type benchNoPut struct{}

func (benchNoPut) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return &dynamodb.PutItemOutput{}, nil
}

var benchSizes = []struct {
	name string
	size int
}{{"1KB", 1 << 10}, {"10KB", 10 << 10}}

var benchSecret = fzSecret

// BenchmarkWebhook is the handler's own work per event: the adapter, the
// signature check, parsing, redaction, building the record and the
// DynamoDB item, and the JSON log line (to io.Discard); the PutItem call
// itself is a no-op.
func BenchmarkWebhook(b *testing.B) {
	v, err := fastpix.NewVerifier(benchSecret)
	if err != nil {
		b.Fatal(err)
	}
	h := &httpapi.Webhook{
		Receiver: &ingest.Receiver{
			Keys:  ingest.StaticKeys{V: v},
			Store: &eventstore.DynamoDB{Client: benchNoPut{}, Table: "events"},
			Now:   func() time.Time { return time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) },
		},
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	for _, sz := range benchSizes {
		body := benchEvent(sz.size)
		sig, _ := fastpix.Sign(benchSecret, body)
		req := events.APIGatewayV2HTTPRequest{Body: string(body), Headers: map[string]string{"fastpix-signature": sig}}
		req.RequestContext.HTTP.Method = "POST"
		b.Run(sz.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				resp, _ := h.Handle(ctx, req)
				if resp.StatusCode != 200 {
					b.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
				}
			}
		})
	}
}

// BenchmarkFloor is the least any receiver spends on an event: one
// HMAC-SHA256 over the body and one json.Unmarshal of it into a
// map[string]any.
func BenchmarkFloor(b *testing.B) {
	key := []byte("fuzz-signing-secret")
	for _, sz := range benchSizes {
		body := benchEvent(sz.size)
		b.Run(sz.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				mac := hmac.New(sha256.New, key)
				mac.Write(body)
				_ = mac.Sum(nil)
				var m map[string]any
				if err := json.Unmarshal(body, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStage splits the handler's work, to see where the time goes.
func BenchmarkStage(b *testing.B) {
	v, _ := fastpix.NewVerifier(benchSecret)
	store := &eventstore.DynamoDB{Client: benchNoPut{}, Table: "events"}
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, sz := range benchSizes {
		body := benchEvent(sz.size)
		sig, _ := fastpix.Sign(benchSecret, body)
		ev, _ := fastpix.Parse(body)
		red, _ := fastpix.Redact(body)
		stages := []struct {
			name string
			fn   func() error
		}{
			{"verify", func() error { return v.Verify(body, sig) }},
			{"parse", func() error { _, err := fastpix.Parse(body); return err }},
			{"redact", func() error { _, err := fastpix.Redact(body); return err }},
			{"store-item", func() error {
				rec, _ := eventstore.NewRecord(ev, red, now, 0, 0)
				return store.Put(context.Background(), rec)
			}},
		}
		for _, st := range stages {
			b.Run(st.name+"/"+sz.name, func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					if err := st.fn(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestBenchEventSizes keeps the benchmark's events what BENCHMARKS.md says
// they are: within 10% of 1 KB and 10 KB, valid, and full of credentials.
func TestBenchEventSizes(t *testing.T) {
	for _, sz := range benchSizes {
		body := benchEvent(sz.size)
		if d := len(body) - sz.size; d < -sz.size/10 || d > sz.size/10 {
			t.Errorf("%s event is %d bytes", sz.name, len(body))
		}
		if _, err := fastpix.Parse(body); err != nil {
			t.Errorf("%s event: %v", sz.name, err)
		}
		red, _ := fastpix.Redact(body)
		if strings.Contains(string(red), "FP_TRgf4") || strings.Contains(string(red), "sk_0000") {
			t.Errorf("%s event: credentials survive redaction", sz.name)
		}
	}
}
