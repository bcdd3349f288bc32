package testenv

import (
	"bytes"
	"compress/gzip"
	"context"
	_ "embed"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/infra/samtemplate"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
)

// templateBeforeLog is template.yaml as it was before the events table
// became each stream's log, byte for byte (git show
// TemplateBeforeLogCommit:template.yaml; TestTemplateBeforeLog checks it).
// Its EventsTable is the previous layout a deployed stack may still hold:
// partition key eventId, a byStream global index (streamId, occurredAt).
//
//go:embed template-before-log.yaml
var templateBeforeLog []byte

// TemplateBeforeLogCommit is the commit whose template.yaml
// template-before-log.yaml is: the parent of the change that made the
// events table each stream's log.
const TemplateBeforeLogCommit = "1046b58f50e5f2f981bc5477cdb32b7fbced2036"

// OldEventsTableID is the logical id of the events table in the template
// before the log.
const OldEventsTableID = "EventsTable"

var (
	oldTmplOnce sync.Once
	oldTmpl     *samtemplate.Template
	oldTmplErr  error
)

// TemplateBeforeLog is the parsed template of the previous layout.
func TemplateBeforeLog(t testing.TB) *samtemplate.Template {
	t.Helper()
	oldTmplOnce.Do(func() { oldTmpl, oldTmplErr = samtemplate.Parse(templateBeforeLog) })
	if oldTmplErr != nil {
		t.Fatalf("the template before the log: %v", oldTmplErr)
	}
	return oldTmpl
}

// TemplateBeforeLogText is template-before-log.yaml's bytes.
func TemplateBeforeLogText() []byte { return templateBeforeLog }

// CreateOldEventsTable creates, in client's DynamoDB under a fresh name,
// the events table exactly as the template before the log declared it,
// deletes it when the test ends, and returns its name.
func CreateOldEventsTable(t testing.TB, client *dynamodb.Client) string {
	t.Helper()
	name := UniqueName(t, "Old"+OldEventsTableID)
	in, err := TemplateBeforeLog(t).CreateTableInput(OldEventsTableID, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateTable(context.Background(), in); err != nil {
		t.Fatalf("create the old events table %s: %v", name, err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return name
}

// FastPixEvent is one event of a live stream's life (or about no stream),
// for the migration proofs: Body is it as FastPix sends it, in the
// envelope of the demo's events.
type FastPixEvent struct {
	ID, Type string
	// StreamID is the live stream; "" for an event about no stream, which
	// names MediaID instead.
	StreamID, MediaID string
	// TargetID makes it a simulcast target's event.
	TargetID string
	Status   string
	At       time.Time
}

// Body is the event as FastPix sends it.
func (e FastPixEvent) Body() []byte {
	obj := map[string]string{"type": "live", "id": e.StreamID}
	data := map[string]any{"streamId": e.StreamID, "status": e.Status}
	switch {
	case e.TargetID != "":
		data = map[string]any{"simulcastId": e.TargetID, "livestreamId": e.StreamID, "isEnabled": true, "status": e.Status}
	case e.StreamID == "":
		obj = map[string]string{"type": "media", "id": e.MediaID}
		data = map[string]any{"id": e.MediaID, "status": e.Status}
	}
	b, err := json.Marshal(map[string]any{
		"type": e.Type, "id": e.ID, "object": obj, "environment": map[string]string{"id": "ws-migration", "name": "Migration"},
		"data": data, "createdAt": e.At.UTC().Format(time.RFC3339Nano), "attempts": []any{},
	})
	if err != nil {
		panic(err) // maps of strings always marshal
	}
	return b
}

// OldItem is the event FastPix sent as body, received at receivedAt, as
// the webhook of the previous layout stored it: the record the webhook
// builds (redacted payload, times, TTL) written as that layout's
// Record.Item wrote it (git show TemplateBeforeLogCommit:pkg/eventstore/eventstore.go):
// keyed by eventId, streamId only for an event about a stream (the
// byStream index is sparse), a payload over eventstore.PayloadInlineMax
// gzipped, no log position.
func OldItem(t testing.TB, body []byte, receivedAt time.Time) map[string]types.AttributeValue {
	t.Helper()
	ev, err := fastpix.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	redacted, err := fastpix.Redact(body)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := eventstore.NewRecord(ev, redacted, receivedAt, eventstore.DefaultRetention, eventstore.DefaultClockSkewTolerance)
	item := map[string]types.AttributeValue{
		eventstore.KeyEventID: &types.AttributeValueMemberS{Value: r.EventID},
		eventstore.AttrType:   &types.AttributeValueMemberS{Value: r.Type},
	}
	put := func(name, v string) {
		if v != "" {
			item[name] = &types.AttributeValueMemberS{Value: v}
		}
	}
	put(eventstore.AttrStreamID, r.StreamID)
	put(eventstore.AttrSimulcastID, r.SimulcastID)
	put(eventstore.AttrObjectType, r.ObjectType)
	put(eventstore.AttrObjectID, r.ObjectID)
	put(eventstore.AttrWorkspaceID, r.WorkspaceID)
	put(eventstore.AttrWorkspaceName, r.WorkspaceName)
	put(eventstore.AttrOccurredAt, r.OccurredAt)
	put(eventstore.AttrReceivedAt, r.ReceivedAt)
	if len(r.Payload) > eventstore.PayloadInlineMax {
		item[eventstore.AttrPayloadGzip] = &types.AttributeValueMemberB{Value: Gzip(t, r.Payload)}
	} else {
		put(eventstore.AttrPayload, r.Payload)
	}
	if r.Test {
		item[eventstore.AttrTest] = &types.AttributeValueMemberBOOL{Value: true}
	}
	item[eventstore.AttrExpiresAt] = &types.AttributeValueMemberN{Value: strconv.FormatInt(r.ExpiresAt, 10)}
	return item
}

// Gzip is s gzipped, as the event store keeps a long payload.
func Gzip(t testing.TB, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// OldItemNearLimit is e as the old webhook stored a delivery of about a
// megabyte: its payload (e's body with a blob of random base64 in its
// metadata) gzipped, the item between under-10 and under bytes below
// DynamoDB's 400 KB. The old table holds it; whether the log can, beside
// its order key, depends on under.
func OldItemNearLimit(t testing.TB, e FastPixEvent, receivedAt time.Time, under int) map[string]types.AttributeValue {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	noise := make([]byte, 600*1024)
	for i := range noise {
		noise[i] = alphabet[rng.IntN(len(alphabet))]
	}
	body := e.Body()
	payload := func(n int) string {
		return strings.TrimSuffix(string(body), "}") + `,"metadata":{"blob":"` + string(noise[:n]) + `"}}`
	}
	item := OldItem(t, body, receivedAt)
	delete(item, eventstore.AttrPayload)
	target := eventstore.MaxItemBytes - under
	lo, hi := 1, len(noise)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		item[eventstore.AttrPayloadGzip] = &types.AttributeValueMemberB{Value: Gzip(t, payload(mid))}
		if eventstore.ItemSize(item) <= target {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	item[eventstore.AttrPayloadGzip] = &types.AttributeValueMemberB{Value: Gzip(t, payload(lo))}
	if s := eventstore.ItemSize(item); s > target || s < target-10 {
		t.Fatalf("the near-limit item is %d bytes, want %d at most and 10 fewer at least", s, target)
	}
	return item
}
