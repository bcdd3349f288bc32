package eventstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/infra/emulator/emulatortest"
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
	for _, r := range []eventstore.Record{full, sparse} {
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
	if _, ok := sparse.Item()[eventstore.AttrStreamID]; ok {
		t.Error("an event of no stream must stay out of the byStream index")
	}
	if _, err := eventstore.RecordFromItem(map[string]types.AttributeValue{}); err == nil {
		t.Error("an item without eventId must not read back")
	}
}

// Against DynamoDB Local: one conditional put per event id, however many
// deliveries race.
func TestPutOnceUnderConcurrency(t *testing.T) {
	client := emulatortest.DynamoDB(t)
	table := emulatortest.CreateTable(t, client, "EventsTable")
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
	client := emulatortest.DynamoDBAt("http://127.0.0.1:1")
	store := &eventstore.DynamoDB{Client: client, Table: "EventsTable"}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := store.Put(ctx, eventstore.Record{EventID: "e1", Type: "t"})
	if err == nil || errors.Is(err, eventstore.ErrDuplicate) {
		t.Fatalf("err = %v, want a storage error", err)
	}
}
