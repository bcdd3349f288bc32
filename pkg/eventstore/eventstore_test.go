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
	ev := fastpix.Event{ID: "e1", Type: "video.live_stream.disconnected", StreamID: "s1"}
	r, skewed := eventstore.NewRecord(ev, []byte(`{}`), received, 0, 0)
	if r.OccurredAt != eventstore.FormatTime(received) || skewed {
		t.Errorf("no createdAt: occurredAt %s (skewed %v), want the arrival time", r.OccurredAt, skewed)
	}
	if r.ExpiresAt != received.Add(eventstore.DefaultRetention).Unix() {
		t.Errorf("default retention: expiresAt %d", r.ExpiresAt)
	}
	ev.CreatedAt = received.Add(-time.Minute)
	if r, _ := eventstore.NewRecord(ev, nil, received, time.Hour, 0); r.OccurredAt != "2026-11-26T09:59:00.000000000Z" || r.ExpiresAt != received.Add(time.Hour).Unix() ||
		r.OrderKey != "2026-11-26T09:59:00.000000000Z/06/e1" {
		t.Errorf("record = %+v", r)
	}
}

// Where an event goes in its stream's log, by a sender's clock.
func TestOrderKeyAndClockSkew(t *testing.T) {
	received := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		createdAt time.Time
		tolerance time.Duration
		wantAt    time.Time
		skewed    bool
	}{
		{"in the past", received.Add(-time.Hour), 0, received.Add(-time.Hour), false},
		{"a little ahead, within the default minute", received.Add(30 * time.Second), 0, received.Add(30 * time.Second), false},
		{"ten minutes ahead", received.Add(10 * time.Minute), 0, received, true},
		{"year 9999", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), 0, received, true},
		{"within a wider tolerance", received.Add(10 * time.Minute), time.Hour, received.Add(10 * time.Minute), false},
		{"beyond a narrow one", received.Add(2 * time.Second), time.Second, received, true},
	}
	for _, tc := range tests {
		ev := fastpix.Event{ID: "e", Type: "video.live_stream.active", StreamID: "s", CreatedAt: tc.createdAt}
		r, skewed := eventstore.NewRecord(ev, nil, received, 0, tc.tolerance)
		want := eventstore.OrderKey(eventstore.FormatTime(tc.wantAt), 5, "e")
		if r.OrderKey != want || skewed != tc.skewed || r.OccurredAt != eventstore.FormatTime(tc.createdAt) {
			t.Errorf("%s: order %s (skewed %v), occurredAt %s; want %s (%v), createdAt kept", tc.name, r.OrderKey, skewed, r.OccurredAt, want, tc.skewed)
		}
	}
	// Text order is log order: time, then the lifecycle, then the id.
	keys := []string{
		eventstore.OrderKey("2026-11-26T10:00:00.000000000Z", 5, "z"),
		eventstore.OrderKey("2026-11-26T10:00:00.000000000Z", 6, "a"),
		eventstore.OrderKey("2026-11-26T10:00:00.000000000Z", 6, "b"),
		eventstore.OrderKey("2026-11-26T10:00:00.000000001Z", 0, "a"),
	}
	for i := 1; i < len(keys); i++ {
		if !(keys[i-1] < keys[i]) {
			t.Errorf("%s !< %s", keys[i-1], keys[i])
		}
	}
	if got := eventstore.OrderKey("t", 250, "e"); got != "t/99/e" {
		t.Errorf("rank beyond two digits: %s", got)
	}
}

func TestItemRoundTrip(t *testing.T) {
	full := eventstore.Record{
		EventID: "e1", Type: "video.live_stream.simulcast.broadcasting", StreamID: "s1", SimulcastID: "t1",
		ObjectType: "live", ObjectID: "s1", WorkspaceID: "w1", WorkspaceName: "Dev",
		OccurredAt: "2024-04-02T11:17:52.722812836Z", ReceivedAt: "2024-04-02T11:17:53.000000000Z",
		Test: true, Payload: `{"id":"e1"}`, ExpiresAt: 1719918000, OrderKey: "2024-04-02T11:17:52.722812836Z/03/e1",
	}
	sparse := eventstore.Record{EventID: "e2", Type: "video.media.ready", ObjectID: "media-1", OccurredAt: "2024-04-02T11:17:52.000000000Z"}
	large := eventstore.Record{EventID: "e3", Type: "video.live_stream.updated", Payload: `{"pad":"` + strings.Repeat("abc", eventstore.PayloadInlineMax) + `"}`}
	for _, r := range []eventstore.Record{full, sparse, large} {
		item := r.Item()
		for name, v := range item {
			if s, ok := v.(*types.AttributeValueMemberS); ok && s.Value == "" {
				t.Errorf("%s: empty string attribute %s (an index key may not be empty)", r.EventID, name)
			}
		}
		back, err := eventstore.RecordFromItem(item)
		if r.OrderKey == "" && back.OrderKey != "" {
			// A record made without a place gets one from its time.
			r.OrderKey = back.OrderKey
		}
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
	if key := sparse.Item()[eventstore.KeyStreamID].(*types.AttributeValueMemberS).Value; key != "nostream/media-1" {
		t.Errorf("an event of no stream is stored under %q, want its object's log", key)
	}
	if id, ok := eventstore.StreamOfLogKey("nostream/media-1"); ok || id != "" {
		t.Error("a log of no stream was taken for a stream")
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
			// A retry differs in what FastPix and we add (its receive time,
			// hence its place when the clock was skewed): still the same
			// event.
			r := rec
			r.ReceivedAt = eventstore.FormatTime(time.Now().Add(time.Duration(i) * time.Second))
			r.OrderKey = eventstore.OrderKey(r.ReceivedAt, 5, r.EventID)
			// A delivery whose write failed for a reason other than a
			// duplicate or a refusal is answered 5xx, and FastPix sends it
			// again: DynamoDB Local's expression parser is not thread-safe
			// under this many concurrent writes and now and then answers a
			// valid condition with "Invalid ConditionExpression" (a 400
			// DynamoDB itself never gives it). Retried as the sender would,
			// it must still end up stored once.
			for attempt := 0; ; attempt++ {
				errs[i] = store.Put(context.Background(), r)
				if errs[i] == nil || errors.Is(errs[i], eventstore.ErrDuplicate) || errors.Is(errs[i], eventstore.ErrUnstorable) || attempt == 4 {
					break
				}
				t.Logf("delivery %d, attempt %d: %v (retried, as a 5xx is)", i, attempt+1, errs[i])
			}
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
		Key: map[string]types.AttributeValue{eventstore.KeyStreamID: &types.AttributeValueMemberS{Value: "s1"}, eventstore.KeyEventID: &types.AttributeValueMemberS{Value: "e-big"}}})
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
	for name, r := range map[string]eventstore.Record{
		"long event id":  {EventID: strings.Repeat("x", eventstore.MaxSortKeyBytes+1), Type: "t", StreamID: "s"},
		"long stream id": {EventID: "e", Type: "t", StreamID: strings.Repeat("s", eventstore.MaxKeyBytes+1)},
		"long position":  {EventID: "e", Type: "t", StreamID: "s", OrderKey: strings.Repeat("k", eventstore.MaxSortKeyBytes+1)},
	} {
		if err := store.Put(ctx, r); !errors.Is(err, eventstore.ErrUnstorable) {
			t.Errorf("%s: %v, want ErrUnstorable", name, err)
		}
	}
}

// fullCollection answers a put as DynamoDB does when a stream's log has
// reached the 10 GB an item collection with a local index may hold.
type fullCollection struct{}

func (fullCollection) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return nil, &types.ItemCollectionSizeLimitExceededException{Message: aws.String("Item collection size limit exceeded")}
}

func TestPutFullLogIsUnstorable(t *testing.T) {
	store := &eventstore.DynamoDB{Client: fullCollection{}, Table: "t"}
	err := store.Put(context.Background(), eventstore.Record{EventID: "e", Type: "t", StreamID: "s"})
	if !errors.Is(err, eventstore.ErrUnstorable) || !strings.Contains(err.Error(), "10 GB") {
		t.Fatalf("err = %v, want ErrUnstorable naming the limit", err)
	}
}
