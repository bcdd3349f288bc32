package localstack_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/infra/demo"
	"github.com/streamhook/fastpix-receiver/infra/localstack"
	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// putOld writes items into the old table as they are.
func putOld(ctx context.Context, t *testing.T, ddb *dynamodb.Client, table string, items ...map[string]ddbtypes.AttributeValue) {
	t.Helper()
	for _, item := range items {
		if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatalf("old table: put %.80s: %v", ddbItemID(item), err)
		}
	}
}

func ddbItemID(item map[string]ddbtypes.AttributeValue) string {
	if v, ok := item[eventstore.KeyEventID].(*ddbtypes.AttributeValueMemberS); ok {
		return v.Value
	}
	return "(no id)"
}

// post sends e through the stack's webhook, signed, as FastPix does.
func post(ctx context.Context, t *testing.T, st *localstack.Stack, e testenv.FastPixEvent) {
	t.Helper()
	s, err := demo.Post(ctx, st.URL+localstack.WebhookPath, st.Secret, demo.Delivery{Type: e.Type, EventID: e.ID, Body: e.Body()})
	if err != nil || s.Status != http.StatusOK {
		t.Fatalf("post %s %s: %v %d %s", e.Type, e.ID, err, s.Status, s.Answer)
	}
}

// streamEvents is every event of stream through the query API, newest
// first, pages of limit, following nextCursor to the end.
func streamEvents(t *testing.T, st *localstack.Stack, stream string, limit int) []httpapi.StreamEvent {
	t.Helper()
	var all []httpapi.StreamEvent
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatalf("%s: the cursor never ends", stream)
		}
		var page httpapi.EventsPage
		if code := getJSON(t, st.URL+"/streams/"+url.PathEscape(stream)+"/events?"+q.Encode(), &page); code != http.StatusOK {
			t.Fatalf("GET the events of %.40s: %d", stream, code)
		}
		all = append(all, page.Events...)
		if page.NextCursor == "" {
			return all
		}
		q.Set("cursor", page.NextCursor)
	}
}

func eventIDs(es []httpapi.StreamEvent) []string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.EventID
	}
	return ids
}

// stateOf is GET /streams/{id}, less updatedAt (when the state was last
// written, not what it says).
func stateOf(t *testing.T, st *localstack.Stack, stream string) map[string]any {
	t.Helper()
	var s map[string]any
	if code := getJSON(t, st.URL+"/streams/"+url.PathEscape(stream), &s); code != http.StatusOK {
		t.Fatalf("GET /streams/%s: %d", stream, code)
	}
	delete(s, "updatedAt")
	return s
}

// notifierRecords is how many stream records the notifier has finished
// batches of, by its metrics (each batch's EMF line says its records).
func notifierRecords(t *testing.T, metrics *testenv.SyncBuffer) int {
	t.Helper()
	n := 0
	sc := bufio.NewScanner(strings.NewReader(metrics.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			Function string `json:"Function"`
			Records  *int   `json:"records"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Function == "notifier" && line.Records != nil {
			n += *line.Records
		}
	}
	return n
}

// settled waits until the notifier has finished batches of at least n
// records, then for the disconnect grace and a margin: whatever those
// records decide, alerts and held drops included, has been sent by then.
func settled(t *testing.T, metrics *testenv.SyncBuffer, n int, grace time.Duration) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for notifierRecords(t, metrics) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the notifier finished %d stream records in 30 s, want %d", notifierRecords(t, metrics), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(grace + 1500*time.Millisecond)
}

func countItems(ctx context.Context, t *testing.T, ddb *dynamodb.Client, table string) int {
	t.Helper()
	n := 0
	p := dynamodb.NewScanPaginator(ddb, &dynamodb.ScanInput{TableName: aws.String(table), Select: ddbtypes.SelectCount, ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += int(page.Count)
	}
	return n
}

// Events stored under the previous layout are still found after the
// migration, none twice, and the migration tells nobody anything: the
// proof of docs/deploy.md's "Moving a stack deployed before the events log"
// against the stack as `make run` assembles it.
//
// Beside the running stack, the events table of the template before the
// log (created from that template, testenv.CreateOldEventsTable) holds what
// the old webhook stored:
//
//   - mig-live: yesterday's whole life (old table only); today's created and
//     connected, which reached the old table and then, retried by FastPix
//     during the cut-over, the new one too (the "twice" case); an active
//     stamped by a clock 70 years ahead, received during the cut-over; and
//     today's active, in the new table only: the stream is live there.
//   - mig-sim: a life with a simulcast target, applied to the state by the
//     notifier before the log (its state row carries no log position, as
//     that notifier wrote it), its events in the old table only.
//   - mig-unseen: two events the old webhook stored after the old
//     notifier's last read, so no state has them: copied, they are applied
//     as new, and its LIVE is the one alert the migration sends.
//   - an event about no stream (a media ready).
//   - the attacks, which the command must name and leave, while the rest
//     migrates: an event id the log's sort key cannot hold, a media id that
//     makes a log key beyond DynamoDB's partition key, items missing their
//     type or their times or with a time that is not one, a payload that is
//     gzipped near 400 KB and so too large with the log's order key beside
//     it; and what it must copy whole: an event id of markup, escapes and
//     control characters, a stream id of 2048 bytes, a 390 KB payload the
//     old webhook kept as text.
//
// Then fastpixctl migrate-events runs as an operator runs it (its flags and
// environment, against the stack's DynamoDB Local, the table in parts at
// once): -dry-run writes nothing; the run copies each event once; the query
// API (newest first, page by page) and fastpixctl inspect find every event
// once, in order; the inbox and the change feed got nothing but
// mig-unseen's; no state moved; a second run copies nothing; and a
// delivery after the migration still moves its stream (the clock far
// ahead did not freeze it).
func TestMigrateEventsOnTheStack(t *testing.T) {
	const grace = 2 * time.Second
	metrics := &testenv.SyncBuffer{}
	rules := map[string]string{alertrules.EnvGraceSeconds: strconv.Itoa(int(grace / time.Second))}
	ctx, st, _ := startStack(t, 4*time.Minute, localstack.Config{RetryDelay: 50 * time.Millisecond, Rules: rules, Metrics: metrics})
	ddb := testenv.DynamoDBAt(st.DynamoDBEndpoint)
	old := testenv.CreateOldEventsTable(t, ddb)

	now := time.Now().UTC().Truncate(time.Millisecond)
	t0 := now.Add(-10 * time.Minute) // today's session
	y0 := t0.Add(-24 * time.Hour)    // yesterday's
	const live, sim, target = "mig-live", "mig-sim", "mig-sim-yt"
	at := func(base time.Time, minutes float64) time.Time {
		return base.Add(time.Duration(minutes * float64(time.Minute)))
	}
	ls := func(id, action string, when time.Time) testenv.FastPixEvent {
		return testenv.FastPixEvent{ID: id, Type: "video.live_stream." + action, StreamID: live, Status: action, At: when}
	}

	// mig-live. Yesterday's life, old table only.
	var liveOld []testenv.FastPixEvent
	for i, action := range []string{"created", "connected", "active", "disconnected", "idle"} {
		liveOld = append(liveOld, ls(fmt.Sprintf("live-y-%d-%s", i, action), action, at(y0, float64(i))))
	}
	// Today: created and connected reached both tables; a clock far
	// ahead; active reached the new table only.
	cutover := []testenv.FastPixEvent{ls("live-t-created", "created", at(t0, 0)), ls("live-t-connected", "connected", at(t0, 1))}
	farAhead := ls("live-t-clock-2096", "active", at(t0, 70*365*24*60))
	farAheadReceived := at(t0, 1.5)
	active := ls("live-t-active", "active", at(t0, 2))
	for _, e := range append(slices.Clone(cutover), active) {
		post(ctx, t, st, e)
	}
	for _, e := range liveOld {
		putOld(ctx, t, ddb, old, testenv.OldItem(t, e.Body(), e.At.Add(time.Second)))
	}
	for _, e := range cutover {
		putOld(ctx, t, ddb, old, testenv.OldItem(t, e.Body(), e.At.Add(time.Second)))
	}
	putOld(ctx, t, ddb, old, testenv.OldItem(t, farAhead.Body(), farAheadReceived))
	// Its log, oldest first: yesterday, today's created and connected, the
	// clock far ahead at its receive time (as the webhook orders it), active.
	wantLive := append(append(append(slices.Clone(liveOld), cutover...), farAhead), active)

	// mig-sim: its life goes through the stack (the notifier applies it
	// and alerts), then its events move to the old table and its state is
	// made what the notifier before the log wrote.
	simLife := []testenv.FastPixEvent{
		{ID: "sim-created", Type: "video.live_stream.created", StreamID: sim, Status: "idle", At: at(t0, 0.2)},
		{ID: "sim-target-created", Type: "video.live_stream.simulcast.created", StreamID: sim, TargetID: target, Status: "idle", At: at(t0, 0.3)},
		{ID: "sim-connected", Type: "video.live_stream.connected", StreamID: sim, Status: "connected", At: at(t0, 1.2)},
		{ID: "sim-active", Type: "video.live_stream.active", StreamID: sim, Status: "active", At: at(t0, 1.4)},
		{ID: "sim-target-broadcasting", Type: "video.live_stream.simulcast.broadcasting", StreamID: sim, TargetID: target, Status: "broadcasting", At: at(t0, 1.6)},
	}
	for _, e := range simLife {
		post(ctx, t, st, e)
	}
	waitForAlerts(ctx, t, st, live, 1)
	waitForAlerts(ctx, t, st, sim, 2)
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := stateOf(t, st, sim)
		targets, _ := s["simulcastTargets"].(map[string]any)
		tgt, _ := targets[target].(map[string]any)
		if s["status"] == "active" && tgt["status"] == "broadcasting" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mig-sim never reached active with its target broadcasting: %v", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	moveToOld := func(stream string, es ...testenv.FastPixEvent) {
		t.Helper()
		for _, e := range es {
			rec, err := (&eventstore.EventReader{Client: ddb, Table: st.EventsTable}).GetEvent(ctx, stream, e.ID)
			if err != nil {
				t.Fatal(err)
			}
			received, err := time.Parse(eventstore.TimeLayout, rec.ReceivedAt)
			if err != nil {
				t.Fatal(err)
			}
			putOld(ctx, t, ddb, old, testenv.OldItem(t, e.Body(), received))
			if _, err := ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(st.EventsTable), Key: map[string]ddbtypes.AttributeValue{
				eventstore.KeyStreamID: &ddbtypes.AttributeValueMemberS{Value: stream}, eventstore.KeyEventID: &ddbtypes.AttributeValueMemberS{Value: e.ID},
			}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	moveToOld(sim, simLife...)
	if _, err := ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(st.StateTable),
		Key:       map[string]ddbtypes.AttributeValue{streamstate.KeyStreamID: &ddbtypes.AttributeValueMemberS{Value: sim}},
		UpdateExpression: aws.String("REMOVE " + strings.Join([]string{streamstate.AttrApplied, streamstate.AttrRecent, streamstate.AttrRev,
			streamstate.AttrPending, streamstate.AttrLease, streamstate.AttrLeaseUntil, streamstate.AttrAlerting}, ", ")),
	}); err != nil {
		t.Fatal(err)
	}

	// mig-unseen: stored by the old webhook during the cut-over, after
	// the old notifier's last read: no state has it. Copied, it is applied
	// as the notifier applies any new event, and its LIVE is sent then
	// (docs/deploy.md says so): the one alert the migration may send.
	const unseen = "mig-unseen"
	unseenLife := []testenv.FastPixEvent{
		{ID: "unseen-connected", Type: "video.live_stream.connected", StreamID: unseen, Status: "connected", At: at(t0, 8)},
		{ID: "unseen-active", Type: "video.live_stream.active", StreamID: unseen, Status: "active", At: at(t0, 8.5)},
	}
	for _, e := range unseenLife {
		putOld(ctx, t, ddb, old, testenv.OldItem(t, e.Body(), e.At.Add(time.Second)))
	}

	// An event about no stream.
	media := testenv.FastPixEvent{ID: "media-ready-1", Type: "video.media.ready", MediaID: "media-1", Status: "ready", At: at(t0, 3)}
	putOld(ctx, t, ddb, old, testenv.OldItem(t, media.Body(), media.At.Add(time.Second)))

	// What must be copied whole: an id of markup, escapes and control
	// characters; a stream id of DynamoDB's largest partition key; a 390 KB
	// payload the webhook kept as text before payloads were gzipped.
	const odd = "odd <script>alert(1)</script>\n\x1b[31m/../%2F\u202e ü 🎥 \"quoted\""
	oddEvent := ls(odd, "updated", at(t0, 1.8))
	longStream := strings.Repeat("s", eventstore.MaxKeyBytes)
	longEvent := testenv.FastPixEvent{ID: "long-stream-active", Type: "video.live_stream.active", StreamID: longStream, Status: "active", At: at(y0, 30)}
	bigText := ls("live-y-big-updated", "updated", at(y0, 3.5))
	bigItem := testenv.OldItem(t, bigText.Body(), bigText.At.Add(time.Second))
	bigPayload := strings.TrimSuffix(string(bigText.Body()), "}") + `,"metadata":{"notes":"` + strings.Repeat("a long note ", 390*1024/12) + `"}}`
	delete(bigItem, eventstore.AttrPayloadGzip)
	bigItem[eventstore.AttrPayload] = &ddbtypes.AttributeValueMemberS{Value: bigPayload}
	putOld(ctx, t, ddb, old, testenv.OldItem(t, oddEvent.Body(), oddEvent.At.Add(time.Second)), bigItem)
	// The notifier saw the long stream's event before the log (every
	// stream of the old table has its state: the state table stays).
	post(ctx, t, st, longEvent)
	waitForAlerts(ctx, t, st, longStream, 1)
	moveToOld(longStream, longEvent)
	wantLive = insertByTime(wantLive, oddEvent, bigText)

	// What must be named and left.
	refused := map[string]string{} // event id → what the report must say
	const unstorable = "not copied: eventstore: event exceeds DynamoDB's limits"
	nUnstorable := func() int {
		n := 0
		for _, why := range refused {
			if why == unstorable {
				n++
			}
		}
		return n
	}
	longID := ls(strings.Repeat("i", eventstore.MaxSortKeyBytes+1), "updated", at(y0, 2.5))
	putOld(ctx, t, ddb, old, testenv.OldItem(t, longID.Body(), longID.At))
	refused[longID.ID] = unstorable
	longMedia := testenv.FastPixEvent{ID: "media-long", Type: "video.media.ready", MediaID: strings.Repeat("m", eventstore.MaxKeyBytes), Status: "ready", At: at(t0, 3)}
	putOld(ctx, t, ddb, old, testenv.OldItem(t, longMedia.Body(), longMedia.At))
	refused[longMedia.ID] = unstorable
	for id, drop := range map[string][]string{
		"no-type":                            {eventstore.AttrType},
		"no-times":                           {eventstore.AttrOccurredAt, eventstore.AttrReceivedAt},
		"odd-no-type\n  event forged copied": {eventstore.AttrType},
	} {
		item := testenv.OldItem(t, ls(id, "connected", at(y0, 0.5)).Body(), y0)
		for _, name := range drop {
			delete(item, name)
		}
		putOld(ctx, t, ddb, old, item)
		refused[id] = "not copied (unreadable)"
	}
	badTime := testenv.OldItem(t, ls("bad-time", "connected", at(y0, 0.5)).Body(), y0)
	badTime[eventstore.AttrOccurredAt] = &ddbtypes.AttributeValueMemberS{Value: "yesterday"}
	putOld(ctx, t, ddb, old, badTime)
	refused["bad-time"] = "not copied (unreadable)"
	nearLimit := ls("near-400kb", "updated", at(y0, 4))
	putOld(ctx, t, ddb, old, testenv.OldItemNearLimit(t, nearLimit, nearLimit.At.Add(time.Second), 40))
	refused[nearLimit.ID] = unstorable

	oldCount := countItems(ctx, t, ddb, old)
	newBefore := countItems(ctx, t, ddb, st.EventsTable)
	statesBefore := map[string]map[string]any{live: stateOf(t, st, live), sim: stateOf(t, st, sim), longStream: stateOf(t, st, longStream)}
	settled(t, metrics, len(cutover)+1+len(simLife)+1, 0)
	alertsBefore, changesBefore := len(st.Inbox.Alerts()), len(st.Feed.Changes())
	recordsBefore := notifierRecords(t, metrics)

	// The operator's command, as docs/deploy.md runs it (make ctl-local
	// sets EVENTS_TABLE and the endpoints).
	t.Setenv("EVENTS_TABLE", st.EventsTable)
	awsConfig := func(context.Context) (aws.Config, error) {
		cfg := testenv.AWSConfig()
		cfg.BaseEndpoint = aws.String(st.DynamoDBEndpoint)
		return cfg, nil
	}
	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := ops.RunMigrateEvents(ctx, append([]string{"-from", old}, args...), &out, awsConfig); err != nil {
			t.Fatalf("migrate-events %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	wantCopied := oldCount - len(refused) - len(cutover)
	summary := func(copied, already int) string {
		return fmt.Sprintf("%d read: %d copied, %d already in the log, %d unstorable, %d unreadable",
			oldCount, copied, already, nUnstorable(), len(refused)-nUnstorable())
	}

	dry := run("-dry-run")
	if n := countItems(ctx, t, ddb, st.EventsTable); n != newBefore {
		t.Fatalf("-dry-run wrote: the log holds %d items, %d before", n, newBefore)
	}
	if want := summary(wantCopied+len(cutover), 0); !strings.Contains(dry, want) {
		t.Errorf("-dry-run says:\n%s\nwant %q", dry, want)
	}

	first := run("-segments", "3")
	t.Logf("migrate-events:\n%s", first)
	if want := "migrated: " + summary(wantCopied, len(cutover)); !strings.Contains(first, want) {
		t.Errorf("the migration says:\n%s\nwant %q", first, want)
	}
	// Each refused item on a line of its own, its id quoted: no raw
	// control character, no line an id could forge.
	lines := strings.Split(strings.TrimRight(first, "\n"), "\n")
	if len(lines) != len(refused)+1 {
		t.Errorf("%d report lines, want one per refused item and the summary", len(lines))
	}
	for id, why := range refused {
		quoted := strconv.QuoteToGraphic(id)
		if len(quoted) > 80 {
			quoted = quoted[:20]
		}
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, "  event "+quoted) && strings.Contains(l, why) {
				found = true
			}
		}
		if !found {
			t.Errorf("no line names %.60q with %q", id, why)
		}
	}
	if strings.ContainsAny(first, "\x1b\u202e") {
		t.Errorf("the report carries raw escapes from the table")
	}
	if n := countItems(ctx, t, ddb, st.EventsTable); n != newBefore+wantCopied {
		t.Errorf("the log holds %d items, want %d before and %d copied", n, newBefore, wantCopied)
	}

	// Nobody was told anything, nothing moved.
	settled(t, metrics, recordsBefore+wantCopied, grace)
	if got := st.Inbox.Alerts()[alertsBefore:]; len(got) != 1 || kinds(got)[0] != "live" || len(about(got, unseen)) != 1 {
		t.Errorf("the migration alerted %d times, want only mig-unseen's LIVE:\n%s", len(got), sms(got))
	}
	for _, c := range st.Feed.Changes()[changesBefore:] {
		if c.StreamID != unseen {
			t.Errorf("the migration reached the change feed about %.40s: %+v", c.StreamID, c)
		}
	}
	if s := stateOf(t, st, unseen); s["status"] != "active" || s["lastEventId"] != "unseen-active" {
		t.Errorf("mig-unseen, copied: %v", s)
	}
	newest := map[string]string{live: active.ID, sim: "sim-target-broadcasting", longStream: longEvent.ID}
	for stream, before := range statesBefore {
		unmoved(t, stream, before, stateOf(t, st, stream), newest[stream])
	}

	// Every event found once, in its log's order, newest first, page by
	// page.
	for _, tc := range []struct {
		stream string
		want   []testenv.FastPixEvent
	}{{live, wantLive}, {sim, simLife}, {longStream, []testenv.FastPixEvent{longEvent}}, {unseen, unseenLife}} {
		var want []string
		for _, e := range slices.Backward(tc.want) {
			want = append(want, e.ID)
		}
		got := eventIDs(streamEvents(t, st, tc.stream, 3))
		if !slices.Equal(got, want) {
			t.Errorf("GET /streams/%.20s…/events, newest first:\n got %q\nwant %q", tc.stream, got, want)
		}
	}
	for _, e := range streamEvents(t, st, live, 100) {
		if e.EventID == bigText.ID {
			var p struct{ Metadata struct{ Notes string } }
			if err := json.Unmarshal(e.Payload, &p); err != nil || len(e.Payload) < 390*1024 {
				t.Errorf("the 390 KB payload came back as %d bytes (%v)", len(e.Payload), err)
			}
		}
	}
	if _, err := (&eventstore.EventReader{Client: ddb, Table: st.EventsTable}).GetEvent(ctx, eventstore.NoStreamPrefix+media.MediaID, media.ID); err != nil {
		t.Errorf("the event about no stream: %v", err)
	}
	var inspected bytes.Buffer
	in := &ops.Inspector{State: &streamstate.Store{Client: ddb, Table: st.StateTable}, Events: &eventstore.Reader{Client: ddb, Table: st.EventsTable}, Out: &inspected}
	if err := in.Inspect(ctx, live, eventstore.MaxLimit); err != nil {
		t.Fatal(err)
	}
	shown := inspected.String()
	if !strings.Contains(shown, "stream mig-live: active") || strings.ContainsAny(shown, "\x1b\u202e") {
		t.Errorf("fastpixctl inspect:\n%s", shown)
	}
	for _, e := range wantLive {
		id := " " + e.ID + " "
		if e.ID == odd {
			id = "odd <script>"
		}
		if n := strings.Count(shown, id); n != 1 {
			t.Errorf("fastpixctl inspect shows %q %d times:\n%s", e.ID, n, shown)
		}
	}

	// Again: nothing copied.
	again := run("-segments", "1")
	if want := "migrated: " + summary(0, wantCopied+len(cutover)); !strings.Contains(again, want) {
		t.Errorf("the second migration says:\n%s\nwant %q", again, want)
	}

	// The stream still moves: the clock far ahead did not become its
	// position.
	post(ctx, t, st, ls("live-t-disconnected", "disconnected", now))
	got := waitForAlerts(ctx, t, st, live, 2)
	if k := kinds(got); k[len(k)-1] != "disconnected" {
		t.Errorf("after the migration mig-live's drop alerted %v", k)
	}
}

// insertByTime adds es to log (oldest first) where their times put them.
func insertByTime(log []testenv.FastPixEvent, es ...testenv.FastPixEvent) []testenv.FastPixEvent {
	out := slices.Clone(log)
	for _, e := range es {
		i := slices.IndexFunc(out, func(x testenv.FastPixEvent) bool { return x.At.After(e.At) && x.ID != "live-t-clock-2096" })
		if i < 0 {
			i = len(out)
		}
		out = slices.Insert(out, i, e)
	}
	return out
}

// unmoved checks that a stream's state says after the migration what it
// said before: its status, its last transition, its targets, what the
// rules remember. Two things may differ, and only forward: a state written
// before the log (no position) now has the position of its newest event,
// the one it had already applied; and the stream's details (the newest
// event that is not a transition: updated, recording) may take in an
// older-looking detail event it never saw, never one older than its own.
func unmoved(t *testing.T, stream string, before, after map[string]any, newest string) {
	t.Helper()
	const applied = "appliedThrough"
	details := []string{"detailEventId", "detailEventType", "detailOccurredAt"}
	strip := func(m map[string]any) map[string]any {
		c := maps.Clone(m)
		delete(c, applied)
		for _, d := range details {
			delete(c, d)
		}
		return c
	}
	if fmt.Sprint(strip(after)) != fmt.Sprint(strip(before)) {
		t.Errorf("the migration moved %.40s:\n before %v\n after  %v", stream, before, after)
	}
	switch b, a := fmt.Sprint(before[applied]), fmt.Sprint(after[applied]); {
	case before[applied] != nil && a != b:
		t.Errorf("the migration moved %.40s's log position from %s to %s", stream, b, a)
	case before[applied] == nil && !strings.HasSuffix(a, "/"+newest):
		t.Errorf("%.40s, a state written before the log, took the position %s, want that of %s", stream, a, newest)
	}
	if b, a := fmt.Sprint(before["detailOccurredAt"]), fmt.Sprint(after["detailOccurredAt"]); before["detailOccurredAt"] != nil && a < b {
		t.Errorf("the migration moved %.40s's details back from %s to %s", stream, b, a)
	}
}
