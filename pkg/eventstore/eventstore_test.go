package eventstore_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
)

func TestFormatTimeSortsAsText(t *testing.T) {
	times := []time.Time{
		time.Date(2024, 4, 2, 11, 17, 52, 0, time.UTC),
		time.Date(2024, 4, 2, 11, 17, 52, 5, time.UTC),
		time.Date(2024, 4, 2, 11, 17, 52, 460858000, time.UTC),
		time.Date(2024, 4, 2, 13, 17, 53, 0, time.FixedZone("CEST", 2*3600)),
		time.Date(2024, 4, 2, 11, 18, 0, 0, time.UTC),
	}
	for i := 1; i < len(times); i++ {
		a, b := eventstore.FormatTime(times[i-1]), eventstore.FormatTime(times[i])
		if !(a < b) || len(a) != len(eventstore.TimeLayout) {
			t.Errorf("%s !< %s", a, b)
		}
	}
	if got := eventstore.FormatTime(times[3]); got != "2024-04-02T11:17:53.000000000Z" {
		t.Errorf("not UTC: %s", got)
	}
}

func TestNewRecord(t *testing.T) {
	received := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	ev := fastpix.Event{ID: "e1", Type: "t", StreamID: "s1"}
	r := eventstore.NewRecord(ev, []byte(`{}`), received, 0)
	if r.OccurredAt != eventstore.FormatTime(received) {
		t.Errorf("no createdAt: occurredAt %s, want the arrival time", r.OccurredAt)
	}
	if r.ExpiresAt != received.Add(eventstore.DefaultRetention).Unix() {
		t.Errorf("default retention: expiresAt %d", r.ExpiresAt)
	}
	ev.CreatedAt = received.Add(-time.Minute)
	if r := eventstore.NewRecord(ev, nil, received, time.Hour); r.OccurredAt != "2026-11-26T09:59:00.000000000Z" || r.ExpiresAt != received.Add(time.Hour).Unix() {
		t.Errorf("record = %+v", r)
	}
}

func TestItemRoundTrip(t *testing.T) {
	full := eventstore.Record{
		EventID: "e1", Type: "video.live_stream.simulcast.broadcasting", StreamID: "s1", SimulcastID: "t1",
		ObjectType: "live", ObjectID: "s1", WorkspaceID: "w1", WorkspaceName: "Dev",
		OccurredAt: "2024-04-02T11:17:52.722812836Z", ReceivedAt: "2024-04-02T11:17:53.000000000Z",
		Test: true, Payload: `{"id":"e1"}`, ExpiresAt: 1719918000,
	}
	sparse := eventstore.Record{EventID: "e2", Type: "video.media.ready", OccurredAt: "2024-04-02T11:17:52.000000000Z"}
	large := eventstore.Record{EventID: "e3", Type: "video.live_stream.updated", Payload: `{"pad":"` + strings.Repeat("abc", eventstore.PayloadInlineMax) + `"}`}
	for _, r := range []eventstore.Record{full, sparse, large} {
		item := r.Item()
		for name, v := range item {
			if s, ok := v.(*types.AttributeValueMemberS); ok && s.Value == "" {
				t.Errorf("%s: empty string attribute %s (an index key may not be empty)", r.EventID, name)
			}
		}
		back, err := eventstore.RecordFromItem(item)
		if err != nil || back != r {
			t.Errorf("round trip: %+v, %v; want %+v", back, err, r)
		}
	}
	if _, ok := full.Item()[eventstore.AttrPayload].(*types.AttributeValueMemberS); !ok {
		t.Error("an ordinary payload must stay text")
	}
	if _, ok := large.Item()[eventstore.AttrPayloadGzip].(*types.AttributeValueMemberB); !ok {
		t.Error("a payload over PayloadInlineMax must be gzipped")
	}
	if _, ok := sparse.Item()[eventstore.AttrStreamID]; ok {
		t.Error("an event of no stream must stay out of the byStream index")
	}
	corrupt := map[string]types.AttributeValue{
		eventstore.KeyEventID:      &types.AttributeValueMemberS{Value: "e4"},
		eventstore.AttrPayloadGzip: &types.AttributeValueMemberB{Value: []byte("not gzip")},
	}
	if _, err := eventstore.RecordFromItem(corrupt); err == nil {
		t.Error("a corrupt gzipped payload must not read back as empty")
	}
	if _, err := eventstore.RecordFromItem(map[string]types.AttributeValue{}); err == nil {
		t.Error("an item without eventId must not read back")
	}
}

// Against DynamoDB Local: one conditional put per event id, however many
// deliveries race.
func TestPutOnceUnderConcurrency(t *testing.T) {
	client := testenv.DynamoDB(t)
	table := testenv.CreateTable(t, client, "EventLogTable")
	store := &eventstore.DynamoDB{Client: client, Table: table}
	rec := eventstore.Record{EventID: "e-race", Type: "video.live_stream.active", StreamID: "s1", OccurredAt: eventstore.FormatTime(time.Now()), Payload: "{}"}

	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = store.Put(context.Background(), rec)
		}()
	}
	wg.Wait()
	won, dup := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, eventstore.ErrDuplicate):
			dup++
		default:
			t.Errorf("put: %v", err)
		}
	}
	if won != 1 || dup != n-1 {
		t.Errorf("%d stored, %d duplicates; want 1 and %d", won, dup, n-1)
	}
	out, err := client.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Count != 1 {
		t.Errorf("table holds %d items", out.Count)
	}
}

func TestPutUnreachable(t *testing.T) {
	client := testenv.DynamoDBAt("http://127.0.0.1:1")
	store := &eventstore.DynamoDB{Client: client, Table: "EventLogTable"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := store.Put(ctx, eventstore.Record{EventID: "e1", Type: "t"})
	if err == nil || errors.Is(err, eventstore.ErrDuplicate) {
		t.Fatalf("err = %v, want a storage error", err)
	}
}

// A signed event larger than an item may hold as text is stored gzipped and
// reads back whole; one that does not fit even so is refused as
// unstorable, not as an outage (a retry would never help).
func TestPutLargePayload(t *testing.T) {
	client := testenv.DynamoDB(t)
	table := testenv.CreateTable(t, client, "EventLogTable")
	store := &eventstore.DynamoDB{Client: client, Table: table}
	ctx := context.Background()

	big := eventstore.Record{EventID: "e-big", Type: "video.live_stream.updated", StreamID: "s1",
		OccurredAt: eventstore.FormatTime(time.Now()),
		Payload:    `{"id":"e-big","data":{"metadata":{"notes":"` + strings.Repeat("stream notes ", 70_000) + `"}}}`}
	if len(big.Payload) <= eventstore.MaxItemBytes {
		t.Fatalf("payload of %d bytes does not exceed the item limit", len(big.Payload))
	}
	if err := store.Put(ctx, big); err != nil {
		t.Fatalf("put %d-byte payload: %v", len(big.Payload), err)
	}
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table),
		Key: map[string]types.AttributeValue{eventstore.KeyEventID: &types.AttributeValueMemberS{Value: "e-big"}}})
	if err != nil {
		t.Fatal(err)
	}
	back, err := eventstore.RecordFromItem(out.Item)
	if err != nil || back.Payload != big.Payload {
		t.Fatalf("read back %d bytes, %v; want %d", len(back.Payload), err, len(big.Payload))
	}

	// Random letters compress to about 3/4: 700 KB of them stay above the limit.
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 700<<10)
	for i := range random {
		random[i] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[rng.IntN(62)]
	}
	incompressible := eventstore.Record{EventID: "e-huge", Type: "t", Payload: string(random)}
	if err := store.Put(ctx, incompressible); !errors.Is(err, eventstore.ErrUnstorable) {
		t.Errorf("incompressible payload: %v, want ErrUnstorable", err)
	}
	long := eventstore.Record{EventID: strings.Repeat("x", eventstore.MaxKeyBytes+1), Type: "t"}
	if err := store.Put(ctx, long); !errors.Is(err, eventstore.ErrUnstorable) {
		t.Errorf("long id: %v, want ErrUnstorable", err)
	}
}
