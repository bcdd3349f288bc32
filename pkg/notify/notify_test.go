package notify_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/deadletter"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
)

func sec(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

func parse(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// deliver stores r and rings the bell for it at its receive time, as the
// webhook and a stream record do, after running the checks due before.
func (w *world) deliver(t *testing.T, r eventstore.Record) []notify.EventResult {
	t.Helper()
	w.runChecks(t, parse(r.ReceivedAt))
	w.clock.set(parse(r.ReceivedAt))
	if !w.log.put(r) {
		return nil
	}
	res, err := w.n.ApplyStream(context.Background(), r.LogKey(), []string{r.EventID})
	if err != nil {
		t.Fatalf("apply %s: %v", r.EventID, err)
	}
	return res
}

// runChecks delivers, in order, the queued checks due before until.
func (w *world) runChecks(t *testing.T, until time.Time) {
	t.Helper()
	for {
		w.sink.mu.Lock()
		i := -1
		for j, q := range w.sink.checks {
			if q.at.Before(until) && (i < 0 || q.at.Before(w.sink.checks[i].at)) {
				i = j
			}
		}
		if i < 0 {
			w.sink.mu.Unlock()
			return
		}
		q := w.sink.checks[i]
		w.sink.checks = slices.Delete(w.sink.checks, i, i+1)
		w.sink.mu.Unlock()
		w.clock.set(q.at)
		if err := w.n.Check(context.Background(), q.c); err != nil {
			t.Fatalf("check of %s: %v", q.c.EventID, err)
		}
	}
}

func lines(m map[string][]string, stream string) string { return strings.Join(m[stream], "\n  ") }

// A stream's whole life, delivered as FastPix sends it: every status
// change on the feed once, in order; the rules' alerts and nothing else.
func TestLifeOfAStream(t *testing.T) {
	w := newWorld(alertrules.Defaults())
	steps := []struct {
		target, id, action string
		at                 int
	}{
		{"", "e1", "created", 0}, {"", "e2", "connected", 10}, {"", "e3", "active", 12},
		{"t1", "s1", "broadcasting", 13},
		{"", "e4", "disconnected", 100}, {"", "e5", "connected", 103}, {"", "e6", "active", 104}, // brief
		{"", "e7", "disconnected", 200}, {"", "e8", "active", 300}, // real drop, recovery
		{"", "e9", "disconnected", 400}, {"", "e10", "idle", 410},
	}
	for _, s := range steps {
		w.deliver(t, event("stream-1", s.target, s.id, s.action, sec(s.at), sec(s.at)))
	}
	w.runChecks(t, sec(5000))
	got := w.sink.alerts["stream-1"]
	if len(got) != 5 {
		t.Fatalf("alerts:\n  %s\nwant live, simulcast, disconnected, recovery, disconnected (idle)", lines(w.sink.alerts, "stream-1"))
	}
	for i, prefix := range []string{"Live LIVE", "Simulcast", "Down DISCONNECTED", "Live LIVE again", "Down DISCONNECTED"} {
		if !strings.HasPrefix(got[i], prefix) {
			t.Errorf("alert %d = %q, want %s…", i, got[i], prefix)
		}
	}
	wantChanges := []string{
		" e1 ->created", " e2 created->connected", " e3 connected->active", "t1 s1 ->broadcasting",
		" e4 active->disconnected [held 2024-04-02T11:02:10.000000000Z]", " e5 disconnected->connected", " e6 connected->active",
		" e7 active->disconnected [held 2024-04-02T11:03:50.000000000Z]", " e8 disconnected->active",
		" e9 active->disconnected [held 2024-04-02T11:07:10.000000000Z]", " e10 disconnected->idle",
	}
	if !slices.Equal(w.sink.changes["stream-1"], wantChanges) {
		t.Errorf("changes:\n  %s\nwant\n  %s", lines(w.sink.changes, "stream-1"), strings.Join(wantChanges, "\n  "))
	}
}

// A status change whose event reached us after a newer one of its stream
// (a delivery FastPix retried later) is on no feed and alerts no one: "live"
// after the stream dropped misleads.
func TestLateEventIsNotAlerted(t *testing.T) {
	w := newWorld(alertrules.Defaults())
	w.deliver(t, event("s", "", "c", "connected", sec(0), sec(0)))
	w.deliver(t, event("s", "", "d", "disconnected", sec(20), sec(20)))
	res := w.deliver(t, event("s", "", "a", "active", sec(10), sec(25)))
	if len(res) != 1 || res[0].Outcome != notify.Suppressed || !res[0].Late {
		t.Fatalf("late active: %+v, want suppressed, late", res)
	}
	w.runChecks(t, sec(1000))
	if got := w.sink.alerts["s"]; len(got) != 1 || !strings.HasPrefix(got[0], "Down DISCONNECTED") {
		t.Errorf("alerts %q, want the disconnect alone (never a live after it)", got)
	}
	if got := w.sink.changes["s"]; len(got) != 2 {
		t.Errorf("changes %q, want connected and disconnected only", got)
	}
}

// A publish that fails after the state write keeps the alert in the state:
// the retry sends it, once, and what was sent before is not sent again.
func TestFailedSendIsKeptAndSentOnce(t *testing.T) {
	w := newWorld(alertrules.Settings{Grace: 0, FlapThreshold: 3, FlapWindow: 10 * time.Minute})
	w.deliver(t, event("s", "", "c", "connected", sec(0), sec(0)))
	w.sink.failPub = 1 // SNS down for the first send: the change of the active
	r := event("s", "", "a", "active", sec(1), sec(1))
	w.log.put(r)
	if _, err := w.n.ApplyStream(context.Background(), "s", []string{"a"}); !errors.Is(err, notify.ErrPublish) {
		t.Fatalf("err = %v, want ErrPublish", err)
	}
	st, _ := w.states.Load(context.Background(), "s")
	if st.Pending == "" || !strings.Contains(st.Pending, `"Kind":"live"`) || st.Lease != "" {
		t.Fatalf("after the failure: pending %q, lease %q; want the live alert kept and the lease let go", st.Pending, st.Lease)
	}
	// The retry of the same record, and another for good measure.
	for range 2 {
		if _, err := w.n.ApplyStream(context.Background(), "s", []string{"a"}); err != nil {
			t.Fatalf("retry: %v", err)
		}
	}
	if got := w.sink.alerts["s"]; len(got) != 1 || !strings.HasPrefix(got[0], "Live LIVE") {
		t.Errorf("alerts %q, want the live alert once", got)
	}
	if got := w.sink.changes["s"]; len(got) != 2 {
		t.Errorf("changes %q, want connected and active once each", got)
	}
}

// Many notifiers ringing for one stream at once (the event source's
// parallel lanes): every event is applied once, every alert and change
// sent once, in the log's order.
func TestConcurrentPassesOfOneStream(t *testing.T) {
	w := newWorld(alertrules.Settings{Grace: 0, FlapThreshold: 0, FlapWindow: time.Minute})
	w.clock.set(sec(10000))
	var ids []string
	actions := []string{"connected", "active", "disconnected", "active", "disconnected", "active", "disconnected", "idle"}
	for i, a := range actions {
		id := fmt.Sprintf("e%d", i)
		w.log.put(event("s", "", id, a, sec(i*10), sec(i*10)))
		ids = append(ids, id)
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			if _, err := w.n.ApplyStream(context.Background(), "s", ids[i%len(ids):i%len(ids)+1]); err != nil {
				t.Errorf("pass %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	// A pass after the others: whatever a pass that lost its lease left.
	if _, err := w.n.ApplyStream(context.Background(), "s", nil); err != nil {
		t.Fatal(err)
	}
	want := []string{"Live LIVE:", "Down DISCONNECTED", "Live LIVE again", "Down DISCONNECTED", "Live LIVE again", "Down DISCONNECTED"}
	got := w.sink.alerts["s"]
	if len(got) != len(want) {
		t.Fatalf("alerts\n  %s\nwant %d", lines(w.sink.alerts, "s"), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("alert %d = %q, want %s…", i, got[i], want[i])
		}
	}
	if got := w.sink.changes["s"]; len(got) != len(actions) {
		t.Errorf("changes\n  %s\nwant %d, each once", lines(w.sink.changes, "s"), len(actions))
	}
}

// life is a random life of a stream and its targets: what FastPix sends,
// each with the time it happened and the time it reaches us (a few are
// retried later, a few delivered twice).
func life(rng *rand.Rand, stream string, start int) []eventstore.Record {
	var out []eventstore.Record
	now := start
	status := "created"
	out = append(out, event(stream, "", stream+"-0", "created", sec(now), sec(now)))
	for i := 1; i < 25; i++ {
		now += 1 + rng.IntN(20)
		var next string
		switch {
		case status == "disconnected" && rng.IntN(3) > 0:
			next = "active"
		default:
			next = []string{"connected", "active", "disconnected", "disconnected", "idle"}[rng.IntN(5)]
		}
		id := fmt.Sprintf("%s-%d", stream, i)
		received := now
		if rng.IntN(10) == 0 {
			received += rng.IntN(60) // retried by FastPix, later
		}
		if rng.IntN(6) == 0 {
			target := fmt.Sprintf("t%d", rng.IntN(3))
			out = append(out, event(stream, target, id+"t", []string{"broadcasting", "errored", "idle"}[rng.IntN(3)], sec(now), sec(received)))
		}
		out = append(out, event(stream, "", id, next, sec(now), sec(received)))
		if rng.IntN(10) == 0 {
			out = append(out, out[len(out)-1]) // delivered twice
		}
		status = next
	}
	return out
}

// What people are told does not depend on how the notifier's work is
// scheduled: the same lives, applied one delivery at a time as they arrive,
// or all at once by many notifiers at a random moment later, in random
// groups, concurrently, with doorbells rung twice, give the same alerts and
// the same change feed, stream by stream.
func TestSameOutcomeWhateverTheSchedule(t *testing.T) {
	s := alertrules.Defaults()
	for seed := range uint64(60) {
		rng := rand.New(rand.NewPCG(seed, 19))
		var all []eventstore.Record
		for i := range 6 {
			all = append(all, life(rng, fmt.Sprintf("st%d", i), rng.IntN(100))...)
		}
		slices.SortStableFunc(all, func(a, b eventstore.Record) int { return strings.Compare(a.ReceivedAt, b.ReceivedAt) })
		end := parse(all[len(all)-1].ReceivedAt).Add(time.Hour)

		one := newWorld(s)
		for _, r := range all {
			one.deliver(t, r)
		}
		one.runChecks(t, end)

		many := newWorld(s)
		var rings []eventstore.Record
		for _, r := range all {
			if many.log.put(r) {
				rings = append(rings, r, r) // every doorbell twice
			}
		}
		rng.Shuffle(len(rings), func(i, j int) { rings[i], rings[j] = rings[j], rings[i] })
		many.clock.set(end)
		var wg sync.WaitGroup
		for len(rings) > 0 {
			n := min(len(rings), 1+rng.IntN(8))
			group := rings[:n]
			rings = rings[n:]
			wg.Go(func() {
				for _, r := range group {
					if _, err := many.n.ApplyStream(context.Background(), r.LogKey(), []string{r.EventID}); err != nil {
						t.Errorf("seed %d: %v", seed, err)
					}
				}
			})
		}
		wg.Wait()
		many.runChecks(t, end.Add(time.Hour))
		for i := range 6 {
			st := fmt.Sprintf("st%d", i)
			if !slices.Equal(one.sink.alerts[st], many.sink.alerts[st]) {
				t.Fatalf("seed %d, stream %s: alerts one at a time\n  %s\nall at once\n  %s", seed, st, lines(one.sink.alerts, st), lines(many.sink.alerts, st))
			}
			if !slices.Equal(one.sink.changes[st], many.sink.changes[st]) {
				t.Fatalf("seed %d, stream %s: changes one at a time\n  %s\nall at once\n  %s", seed, st, lines(one.sink.changes, st), lines(many.sink.changes, st))
			}
		}
	}
}

// kept is a dead-letter queue that records what it keeps.
type kept struct {
	mu   sync.Mutex
	msgs []deadletter.Message
}

func (k *kept) Keep(_ context.Context, m deadletter.Message) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.msgs = append(k.msgs, m)
	return nil
}

// refusing answers publishes to one topic as SNS answers a role that may
// not publish there.
type refusing struct {
	*sink
	topic string
}

func (r refusing) Publish(ctx context.Context, topic string, m alerts.Message) error {
	if topic == r.topic {
		return fmt.Errorf("%w: to %s: %w", alerts.ErrPublish, topic, &smithy.GenericAPIError{Code: "AuthorizationError", Message: "not authorized", Fault: smithy.FaultClient})
	}
	return r.sink.Publish(ctx, topic, m)
}

// An alert SNS refuses for good goes to the dead-letter queue at once, with
// its reason, and the stream's later alerts go on; redrive sends it again.
func TestPermanentPublishErrorIsKeptAside(t *testing.T) {
	w := newWorld(alertrules.Settings{Grace: 0, FlapThreshold: 3, FlapWindow: 10 * time.Minute})
	dl := &kept{}
	w.n.DeadLetters = dl
	w.n.Publisher = refusing{sink: w.sink, topic: routes["video.live_stream.active"]}
	w.deliver(t, event("s", "", "a", "active", sec(0), sec(0)))
	w.deliver(t, event("s", "", "d", "disconnected", sec(10), sec(10)))
	w.runChecks(t, sec(100))
	if got := w.sink.alerts["s"]; len(got) != 1 || !strings.HasPrefix(got[0], "Down DISCONNECTED") {
		t.Fatalf("alerts %q, want the disconnect (the live alert refused)", got)
	}
	if len(dl.msgs) != 1 || !strings.HasPrefix(dl.msgs[0].Reason, "AuthorizationError") || !strings.Contains(string(dl.msgs[0].Effect), `"Kind":"live"`) {
		t.Fatalf("kept aside %+v, want the live alert with its reason", dl.msgs)
	}
	st, _ := w.states.Load(context.Background(), "s")
	if strings.Contains(st.Pending, "effects") {
		t.Errorf("pending %q, want nothing left", st.Pending)
	}
	w.n.Publisher = w.sink // the operator fixed the policy
	if err := w.n.Resend(context.Background(), dl.msgs[0]); err != nil {
		t.Fatal(err)
	}
	if got := w.sink.alerts["s"]; len(got) != 2 || !strings.HasPrefix(got[1], "Live LIVE") {
		t.Errorf("after redrive: %q", got)
	}
}

// Each status moves forward on its own: a simulcast target's event or a
// recording update that reached us before the stream's active (FastPix
// sends them side by side) delays nothing and suppresses nothing, whether
// they are applied in one pass or the active comes after the log moved
// past it.
func TestOtherStatusesDoNotMakeAnEventLate(t *testing.T) {
	for _, together := range []bool{true, false} {
		w := newWorld(alertrules.Defaults())
		w.deliver(t, event("s", "", "c", "connected", sec(0), sec(0)))
		target := event("s", "t1", "b", "broadcasting", sec(3), sec(3))
		recording := event("s", "", "r", "recording", sec(4), sec(4))
		active := event("s", "", "a", "active", sec(2), sec(5)) // happened first, reached us last
		if together {
			for _, r := range []eventstore.Record{target, recording, active} {
				w.log.put(r)
			}
			w.clock.set(sec(6))
			if _, err := w.n.ApplyStream(context.Background(), "s", []string{"b", "r", "a"}); err != nil {
				t.Fatal(err)
			}
		} else {
			w.deliver(t, target)
			w.deliver(t, recording)
			w.deliver(t, active)
		}
		got := w.sink.alerts["s"]
		if len(got) != 2 || !slices.ContainsFunc(got, func(a string) bool { return strings.HasPrefix(a, "Live LIVE") }) {
			t.Errorf("together %v: alerts %q, want the live alert and the target's", together, got)
		}
		st, _ := w.states.Load(context.Background(), "s")
		if st.Status != "active" || st.SimulcastTargets["t1"].Status != "broadcasting" {
			t.Errorf("together %v: state %s, target %+v", together, st.Status, st.SimulcastTargets["t1"])
		}
	}
}

// A screen learns from the feed what the rules add to a status: a drop is
// "held" until its grace ends; a flapping encoder's session is "unstable"
// from its alert until a real drop or the session's end.
func TestChangesCarryTheStreamsMark(t *testing.T) {
	w := newWorld(alertrules.Settings{Grace: 10 * time.Second, FlapThreshold: 2, FlapWindow: 10 * time.Minute})
	steps := []struct {
		id, action string
		at         int
	}{
		{"a1", "active", 0},
		{"d1", "disconnected", 10}, {"b1", "active", 12}, // brief
		{"d2", "disconnected", 20}, {"b2", "active", 22}, // brief again: unstable
		{"d3", "disconnected", 30}, {"b3", "active", 60}, // a real drop, then back
	}
	for _, s := range steps {
		w.deliver(t, event("s", "", s.id, s.action, sec(s.at), sec(s.at)))
	}
	w.runChecks(t, sec(5000))
	want := []string{
		" a1 ->active",
		" d1 active->disconnected [held 2024-04-02T11:00:20.000000000Z]", " b1 disconnected->active",
		" d2 active->disconnected [held 2024-04-02T11:00:30.000000000Z]", " b2 disconnected->active [unstable ]",
		" d3 active->disconnected [held 2024-04-02T11:00:40.000000000Z]", " b3 disconnected->active",
	}
	if !slices.Equal(w.sink.changes["s"], want) {
		t.Errorf("changes:\n  %s\nwant\n  %s", lines(w.sink.changes, "s"), strings.Join(want, "\n  "))
	}
}

// A stream with hundreds of simulcast targets, each reporting within
// minutes: every delivery applies its own event once, and a pass reads
// what is new, not the whole look-back (which once re-applied, reported
// and re-read every event past the last 64 on every pass). A stream record
// delivered again later (a retried batch) applies nothing.
func TestBusyStreamAppliesEachEventOnce(t *testing.T) {
	w := newWorld(alertrules.Defaults())
	w.deliver(t, event("s", "", "c", "connected", sec(0), sec(0)))
	w.deliver(t, event("s", "", "a", "active", sec(1), sec(1)))
	const targets = 300
	for i := range targets {
		id := fmt.Sprintf("x%03d", i)
		res := w.deliver(t, event("s", fmt.Sprintf("t%03d", i), id, "broadcasting", sec(2+i), sec(2+i)))
		if len(res) != 1 || res[0].EventID != id || res[0].Outcome != notify.Published {
			t.Fatalf("delivery %d: %d results %+v, want its own event published", i, len(res), res)
		}
	}
	// Events written up to the write bound after they reached us are
	// still new to a pass: the last pass read at 301 s, so a read returns
	// at most what reached us in the 15 s before.
	if w.log.returned > (2+targets)*16 {
		t.Errorf("%d log reads returned %d events for %d deliveries: passes re-read the look-back", w.log.reads, w.log.returned, 2+targets)
	}
	if got := w.sink.alerts["s"]; len(got) != 1+targets {
		t.Errorf("%d alerts, want the live one and one per target", len(got))
	}
	if got := w.sink.changes["s"]; len(got) != 2+targets {
		t.Errorf("%d changes, want one per event", len(got))
	}
	// The last ones are remembered and cost nothing; older ones are
	// applied again, which moves nothing and sends nothing.
	for _, id := range []string{"x299", "x290", "a", "x000", "x150"} {
		res, err := w.n.ApplyStream(context.Background(), "s", []string{id})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.EventID != id || r.Outcome == notify.Published || r.StateUpdated {
				t.Errorf("the record of %s again: %+v", id, r)
			}
		}
		if id >= "x290" && len(res) != 0 {
			t.Errorf("the record of %s, among the last applied, again: %+v; want nothing applied", id, res)
		}
	}
	if got := w.sink.alerts["s"]; len(got) != 1+targets {
		t.Errorf("%d alerts after records delivered again", len(got))
	}
	if got := w.sink.changes["s"]; len(got) != 2+targets {
		t.Errorf("%d changes after records delivered again", len(got))
	}
}

// An event whose write took longer than the notifier counts on (a pass
// after it, reading only what reached us since the previous pass, leaves
// it out) is applied when its own record rings: late, never lost.
func TestSlowWriteIsAppliedByItsOwnRecord(t *testing.T) {
	w := newWorld(alertrules.Defaults())
	w.deliver(t, event("s", "", "c", "connected", sec(0), sec(0)))
	w.deliver(t, event("s", "", "a", "active", sec(1), sec(1)))
	w.deliver(t, event("s", "t2", "x2", "broadcasting", sec(50), sec(50)))
	// Reached the webhook at 10 s; its write lands after the pass of 60 s.
	slow := event("s", "t1", "x1", "broadcasting", sec(10), sec(10))
	w.deliver(t, event("s", "t3", "x3", "broadcasting", sec(60), sec(60)))
	w.log.put(slow)
	w.clock.set(sec(61))
	res, err := w.n.ApplyStream(context.Background(), "s", []string{"x1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].EventID != "x1" || res[0].Outcome != notify.Published {
		t.Fatalf("the slow write's own record: %+v, want it applied and its target's alert sent", res)
	}
	if got := w.sink.alerts["s"]; len(got) != 4 {
		t.Errorf("alerts\n  %s\nwant live and three targets", lines(w.sink.alerts, "s"))
	}
}
