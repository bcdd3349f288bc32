package ops_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
)

// Events stored under the previous layout are found in the log after the
// migration, each once, in order; a second migration copies nothing.
func TestMigrateEvents(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	old := testenv.CreateOldEventsTable(t, e.ddb)
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	var last eventstore.Record
	for i, typ := range []string{"created", "connected", "active", "disconnected", "idle"} {
		r := eventstore.Record{
			EventID: fmt.Sprintf("old-%d", i), Type: "video.live_stream." + typ, StreamID: "stream-old",
			OccurredAt: eventstore.FormatTime(base.Add(time.Duration(i) * time.Minute)), ReceivedAt: eventstore.FormatTime(base.Add(time.Hour)),
			Payload: fmt.Sprintf(`{"id":"old-%d","type":"video.live_stream.%s"}`, i, typ),
		}
		last = r
		item := r.Item()
		// The previous layout: no log key, no order key.
		delete(item, eventstore.AttrOrderKey)
		if _, err := e.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(old), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	// An event of no stream, and one already migrated by hand.
	if _, err := e.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(old), Item: map[string]types.AttributeValue{
		"eventId": &types.AttributeValueMemberS{Value: "old-media"}, "type": &types.AttributeValueMemberS{Value: "video.media.ready"},
		"occurredAt": &types.AttributeValueMemberS{Value: eventstore.FormatTime(base)},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := (&eventstore.DynamoDB{Client: e.ddb, Table: e.events}).Put(ctx, last); err != nil {
		t.Fatal(err)
	}

	m := &ops.Migration{From: e.ddb, Table: old, To: &eventstore.DynamoDB{Client: e.ddb, Table: e.events}, Out: &e.out}
	sum, err := m.Run(ctx)
	if err != nil || sum.Read != 6 || sum.Copied != 5 || sum.AlreadyThere != 1 {
		t.Fatalf("first migration: %+v, %v\n%s", sum, err, e.out.String())
	}
	again, err := m.Run(ctx)
	if err != nil || again.Copied != 0 || again.AlreadyThere != 6 {
		t.Fatalf("second migration: %+v, %v", again, err)
	}
	r := &eventstore.Reader{Client: e.ddb, Table: e.events}
	page, err := r.StreamEvents(ctx, eventstore.StreamQuery{StreamID: "stream-old", Ascending: true})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, rec := range page.Records {
		ids = append(ids, rec.EventID)
	}
	if strings.Join(ids, ",") != "old-0,old-1,old-2,old-3,old-4" {
		t.Errorf("the stream's events after the migration: %v, want each once, in order", ids)
	}
}

// migration is an old-layout table and a log in DynamoDB Local, and the
// migration between them, reporting to out.
type migration struct {
	ddb      *dynamodb.Client
	old, log string
	out      strings.Builder
	m        *ops.Migration
}

func newMigration(t testing.TB) *migration {
	t.Helper()
	ddb := testenv.DynamoDB(t)
	mg := &migration{ddb: ddb, old: testenv.CreateOldEventsTable(t, ddb), log: testenv.CreateTable(t, ddb, "EventLogTable")}
	mg.m = &ops.Migration{From: ddb, Table: mg.old, To: &eventstore.DynamoDB{Client: ddb, Table: mg.log}, Out: &mg.out}
	return mg
}

func (mg *migration) put(t testing.TB, items ...map[string]types.AttributeValue) {
	t.Helper()
	for _, item := range items {
		if _, err := mg.ddb.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(mg.old), Item: item}); err != nil {
			t.Fatalf("old table: %v", err)
		}
	}
}

// logOf is the stream's log, oldest first, as the notifier reads it.
func (mg *migration) logOf(t testing.TB, logKey string) []eventstore.Record {
	t.Helper()
	recs, err := (&eventstore.Reader{Client: mg.ddb, Table: mg.log}).ReadLog(context.Background(), logKey, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// What the old table holds and the log cannot, or what has no place in a
// log, is named by the migration, one line each whatever its id holds,
// and left in the old table; the rest is copied. What the log can hold,
// however odd, is copied whole. (A stream id beyond DynamoDB's 2048-byte
// partition key is no case: the old table's byStream index refuses it,
// DynamoDB Local included, so no old item has one; an event about no
// stream is logged under its media's id, and that can be too long.)
func TestMigrateEventsNamesWhatItCannotCopy(t *testing.T) {
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	ev := func(id, action string, minute int) testenv.FastPixEvent {
		return testenv.FastPixEvent{ID: id, Type: "video.live_stream." + action, StreamID: "stream-1", Status: action, At: base.Add(time.Duration(minute) * time.Minute)}
	}
	item := func(e testenv.FastPixEvent) map[string]types.AttributeValue {
		return testenv.OldItem(t, e.Body(), e.At.Add(time.Second))
	}
	without := func(e testenv.FastPixEvent, names ...string) map[string]types.AttributeValue {
		it := item(e)
		for _, n := range names {
			delete(it, n)
		}
		return it
	}
	with := func(e testenv.FastPixEvent, name string, v types.AttributeValue) map[string]types.AttributeValue {
		it := item(e)
		it[name] = v
		return it
	}
	set := func(it map[string]types.AttributeValue, name string, v types.AttributeValue) map[string]types.AttributeValue {
		it[name] = v
		return it
	}
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	const odd = "odd\n  event forged-line copied\x1b[2J\u202e<b>"
	tests := []struct {
		name       string
		item       map[string]types.AttributeValue
		report     string // "" when it is copied
		logKey     string // where a copied event is found
		unstorable bool
		check      func(t *testing.T, r eventstore.Record) // of a copied event
	}{
		{name: "event id beyond the log's sort key", item: item(ev(strings.Repeat("i", eventstore.MaxSortKeyBytes+1), "updated", 2)),
			report: "not copied: eventstore: event exceeds DynamoDB's limits: eventId is 1025 bytes, at most 1024", unstorable: true},
		{name: "event id whose order key is beyond the index's sort key", item: item(ev(strings.Repeat("o", eventstore.MaxSortKeyBytes-10), "updated", 2)),
			report: "not copied: eventstore: event exceeds DynamoDB's limits: event " + strings.Repeat("o", 64) + ": orderKey is", unstorable: true},
		{name: "media id beyond the log's partition key", item: item(testenv.FastPixEvent{ID: "media-long", Type: "video.media.ready",
			MediaID: strings.Repeat("m", eventstore.MaxKeyBytes-5), Status: "ready", At: base}),
			report: "not copied: eventstore: event exceeds DynamoDB's limits: event media-long: streamId is 2052 bytes, at most 2048", unstorable: true},
		{name: "gzipped payload near 400 KB", item: testenv.OldItemNearLimit(t, ev("near-limit", "updated", 2), base, 40),
			report: "not copied: eventstore: event exceeds DynamoDB's limits: event near-limit: item is", unstorable: true},
		{name: "stream id the log keeps for no stream", item: with(ev("no-stream-prefix", "connected", 2), eventstore.AttrStreamID, s("nostream/stream-1")),
			report: `not copied (unreadable): ops: old item has no place in the log: streamId "nostream/stream-1" begins with "nostream/"`},
		{name: "no type", item: without(ev("no-type", "connected", 2), eventstore.AttrType),
			report: "not copied (unreadable): ops: old item has no place in the log: no type"},
		{name: "no time", item: without(ev("no-time", "connected", 2), eventstore.AttrOccurredAt, eventstore.AttrReceivedAt),
			report: "not copied (unreadable): ops: old item has no place in the log: neither occurredAt nor receivedAt"},
		{name: "a time that is none", item: with(ev("bad-time", "connected", 2), eventstore.AttrOccurredAt, s("2026-11-01 10:02")),
			report: `not copied (unreadable): ops: old item has no place in the log: occurredAt "2026-11-01 10:02" is not an RFC 3339 time`},
		{name: "a receive time that is none", item: with(ev("bad-received", "connected", 2), eventstore.AttrReceivedAt, s("\x1b[31mred")),
			report: `not copied (unreadable): ops: old item has no place in the log: receivedAt "\x1b[31mred" is not an RFC 3339 time`},
		{name: "corrupt gzipped payload", item: with(ev("bad-gzip", "updated", 2), eventstore.AttrPayloadGzip, &types.AttributeValueMemberB{Value: []byte("not gzip")}),
			report: "not copied (unreadable): eventstore: item bad-gzip: bad payloadGzip"},
		{name: "gzipped payload that inflates beyond 8 MiB", item: with(ev("gzip-bomb", "updated", 2), eventstore.AttrPayloadGzip,
			&types.AttributeValueMemberB{Value: testenv.Gzip(t, strings.Repeat("0", 9<<20))}),
			report: "not copied (unreadable): eventstore: item gzip-bomb: bad payloadGzip: inflates beyond 8 MiB"},
		{name: "odd characters in a refused item's id", item: without(ev(odd, "connected", 2), eventstore.AttrType),
			report: "not copied (unreadable): ops: old item has no place in the log: no type"},
		{name: "odd characters in an id", item: item(ev(odd, "updated", 2)), logKey: "stream-1"},
		{name: "stream id of the largest partition key", item: item(testenv.FastPixEvent{ID: "long-stream", Type: "video.live_stream.active",
			StreamID: strings.Repeat("s", eventstore.MaxKeyBytes), Status: "active", At: base}), logKey: strings.Repeat("s", eventstore.MaxKeyBytes)},
		{name: "payload of 390 KB kept as text", item: with(ev("big-text", "updated", 2), eventstore.AttrPayload,
			s(`{"id":"big-text","type":"video.live_stream.updated","data":{"notes":"`+strings.Repeat("a long note ", 390*1024/12)+`"}}`)), logKey: "stream-1"},
		{name: "times in another RFC 3339 form", item: set(with(ev("offset-time", "connected", 2), eventstore.AttrOccurredAt, s("2026-11-01T12:02:00+02:00")),
			eventstore.AttrReceivedAt, s("2026-11-01T11:02:01.5+01:00")), logKey: "stream-1",
			check: func(t *testing.T, r eventstore.Record) {
				if r.OccurredAt != "2026-11-01T10:02:00.000000000Z" || r.ReceivedAt != "2026-11-01T10:02:01.500000000Z" ||
					!strings.HasPrefix(r.OrderKey, r.OccurredAt+"/") {
					t.Errorf("times kept as %s, %s, placed at %s; want them in the log's one layout", r.OccurredAt, r.ReceivedAt, r.OrderKey)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mg := newMigration(t)
			before, after := ev("before", "connected", 1), ev("after", "active", 3)
			mg.put(t, item(before), tc.item, item(after))
			sum, err := mg.m.Run(context.Background())
			if err != nil {
				t.Fatalf("the migration stopped: %v\n%s", err, mg.out.String())
			}
			lines := strings.Split(strings.TrimRight(mg.out.String(), "\n"), "\n")
			id := eventIDOf(tc.item)
			if tc.report == "" {
				if sum.Copied != 3 || len(lines) != 1 {
					t.Fatalf("%+v, want all 3 copied and nothing named:\n%s", sum, mg.out.String())
				}
				recs := mg.logOf(t, tc.logKey)
				found := 0
				for _, r := range recs {
					if r.EventID == id {
						found++
						if want, _ := eventstore.RecordFromItem(tc.item); r.Payload != want.Payload {
							t.Errorf("its payload came back as %d bytes, %d stored", len(r.Payload), len(want.Payload))
						}
						if tc.check != nil {
							tc.check(t, r)
						}
					}
				}
				if found != 1 {
					t.Errorf("found %d times in its log", found)
				}
			} else {
				want := ops.MigrationSummary{Read: 3, Copied: 2}
				if tc.unstorable {
					want.Unstorable = 1
				} else {
					want.Unreadable = 1
				}
				if sum != want || len(lines) != 2 {
					t.Fatalf("%+v, want %+v and one line naming it:\n%s", sum, want, mg.out.String())
				}
				name := strconv.QuoteToGraphic(id)
				if len(id) > 80 {
					name = strconv.QuoteToGraphic(id[:80]) + fmt.Sprintf("…(%d bytes)", len(id))
				}
				if wantLine := "  event " + name + " " + escapedForTest(tc.report); !strings.HasPrefix(lines[0], wantLine) {
					t.Errorf("the report says\n%s\nwant a line starting\n%s", lines[0], wantLine)
				}
			}
			if strings.ContainsAny(mg.out.String(), "\x1b\u202e") || strings.Count(mg.out.String(), "\n") != len(lines) {
				t.Errorf("the report carries raw control characters from the table:\n%q", mg.out.String())
			}
			// The rest is in its stream's log, in order.
			var ids []string
			for _, r := range mg.logOf(t, "stream-1") {
				if r.EventID == "before" || r.EventID == "after" {
					ids = append(ids, r.EventID)
				}
			}
			if strings.Join(ids, ",") != "before,after" {
				t.Errorf("the rest of the log: %v", ids)
			}
		})
	}
}

func eventIDOf(item map[string]types.AttributeValue) string {
	v, _ := item[eventstore.KeyEventID].(*types.AttributeValueMemberS)
	return v.Value
}

// escapedForTest writes the control characters of a report as the report
// does (Go escapes), so the cases above can say what is shown.
func escapedForTest(s string) string {
	return strings.NewReplacer("\x1b", `\x1b`, "\n", `\n`, "\u202e", `\u202e`).Replace(s)
}

// An old event is placed in its log where the webhook would have placed
// it, whatever the old item's times look like: by createdAt, or by its
// receive time when createdAt was more than the tolerance ahead (a clock
// 70 years ahead must not put it after everything its stream will ever
// do: the notifier would apply it and take every later event for a late
// one), times in any RFC 3339 form written in the log's one layout.
func TestMigrateEventsPlacesEventsAsTheWebhookDoes(t *testing.T) {
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for _, tolerance := range []time.Duration{0, 10 * time.Minute} {
		t.Run(fmt.Sprintf("tolerance %v", tolerance), func(t *testing.T) {
			mg := newMigration(t)
			mg.m.ClockSkewTolerance = tolerance
			type old struct {
				e        testenv.FastPixEvent
				received time.Time
			}
			ev := func(id, action string, at time.Time) testenv.FastPixEvent {
				return testenv.FastPixEvent{ID: id, Type: "video.live_stream." + action, StreamID: "stream-1", Status: action, At: at}
			}
			olds := []old{
				{ev("created", "created", base), base.Add(time.Second)},
				{ev("connected", "connected", base.Add(time.Minute)), base.Add(time.Minute + time.Second)},
				{ev("clock-far-ahead", "active", base.AddDate(70, 0, 0)), base.Add(90 * time.Second)},
				{ev("clock-5-min-ahead", "active", base.Add(7*time.Minute)), base.Add(2 * time.Minute)},
				{ev("disconnected", "disconnected", base.Add(3*time.Minute)), base.Add(3*time.Minute + time.Second)},
				{ev("idle", "idle", base.Add(4*time.Minute)), base.Add(4*time.Minute + time.Second)},
			}
			want := map[string]string{}
			for _, o := range olds {
				mg.put(t, testenv.OldItem(t, o.e.Body(), o.received))
				parsed, err := fastpix.Parse(o.e.Body())
				if err != nil {
					t.Fatal(err)
				}
				rec, _ := eventstore.NewRecord(parsed, nil, o.received, 0, tolerance)
				want[o.e.ID] = rec.OrderKey
			}
			if _, err := mg.m.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range mg.logOf(t, "stream-1") {
				got = append(got, r.EventID)
				if r.OrderKey != want[r.EventID] {
					t.Errorf("%s placed at %s, the webhook places it at %s", r.EventID, r.OrderKey, want[r.EventID])
				}
			}
			order := "created,connected,clock-far-ahead,clock-5-min-ahead,disconnected,idle"
			if tolerance > 5*time.Minute {
				order = "created,connected,clock-far-ahead,disconnected,idle,clock-5-min-ahead"
			}
			if strings.Join(got, ",") != order {
				t.Errorf("the log, oldest first: %v\nwant %s", got, order)
			}
		})
	}
}

// fastpixctl migrate-events: every missing flag named at once, a run
// against its own log refused, the tolerance taken from the webhook's
// variable, and a dry run that writes nothing.
func TestRunMigrateEvents(t *testing.T) {
	mg := newMigration(t)
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	e := testenv.FastPixEvent{ID: "e1", Type: "video.live_stream.active", StreamID: "stream-1", Status: "active", At: base.Add(5 * time.Minute)}
	mg.put(t, testenv.OldItem(t, e.Body(), base))
	awsConfig := func(context.Context) (aws.Config, error) {
		cfg := testenv.AWSConfig()
		cfg.BaseEndpoint = aws.String(testenv.DynamoDBEndpoint(t))
		return cfg, nil
	}
	run := func(args ...string) (string, error) {
		var out strings.Builder
		err := ops.RunMigrateEvents(context.Background(), args, &out, awsConfig)
		return out.String(), err
	}
	t.Setenv("EVENTS_TABLE", "")
	t.Setenv(ops.EnvClockSkewTolerance, "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "migrate-events: required: -from, -events-table (or EVENTS_TABLE, the stack's EventsTableName output)"},
		{[]string{"-from", mg.log, "-events-table", mg.log}, "-from and -events-table are the same table"},
		{[]string{"-from", mg.old, "-events-table", mg.log, "-clock-skew-tolerance", "0"}, "-clock-skew-tolerance must be positive"},
		{[]string{"-from", mg.old, "-events-table", mg.log, "-segments", "0"}, "-segments must be 1 to 32, not 0"},
	} {
		if _, err := run(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("migrate-events %q: %v, want %q", tc.args, err, tc.want)
		}
	}

	t.Setenv("EVENTS_TABLE", mg.log)
	out, err := run("-from", mg.old, "-dry-run")
	if err != nil || !strings.Contains(out, "1 read: 1 copied") || len(mg.logOf(t, "stream-1")) != 0 {
		t.Fatalf("dry run: %v\n%s\nthe log: %v", err, out, mg.logOf(t, "stream-1"))
	}
	// createdAt 5 minutes ahead of the receive time: placed by createdAt
	// only when the stack trusts that much.
	t.Setenv(ops.EnvClockSkewTolerance, "600")
	if out, err := run("-from", mg.old); err != nil || !strings.Contains(out, "migrated: 1 read: 1 copied") {
		t.Fatalf("%v\n%s", err, out)
	}
	if recs := mg.logOf(t, "stream-1"); len(recs) != 1 || !strings.HasPrefix(recs[0].OrderKey, eventstore.FormatTime(e.At)) {
		t.Errorf("with a tolerance of 600 s the event is placed at %v, want its createdAt %s", recs, eventstore.FormatTime(e.At))
	}
}
