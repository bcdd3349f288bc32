package notify_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/checkqueue"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

var rt0 = time.Date(2024, 4, 2, 11, 0, 0, 0, time.UTC)

// queuedCheck is a check in the fake delay queue.
type queuedCheck struct {
	c   checkqueue.Check
	due time.Time
}

type fakeQueue struct {
	now  *time.Time
	q    []queuedCheck
	err  error
	sent int
}

func (f *fakeQueue) Enqueue(_ context.Context, c checkqueue.Check, delay time.Duration) error {
	f.sent++
	if f.err != nil {
		return f.err
	}
	f.q = append(f.q, queuedCheck{c: c, due: f.now.Add(delay)})
	return nil
}

// rulesRig is the notifier with the rules on, over the in-memory state, a
// fake clock, queue and publisher.
type rulesRig struct {
	t     *testing.T
	now   time.Time
	state *streamstate.Memory
	queue *fakeQueue
	pub   *fakePublisher
	n     *notify.Notifier
	seq   int
}

func newRulesRig(t *testing.T, s alertrules.Settings) *rulesRig {
	r := &rulesRig{t: t, now: rt0, state: &streamstate.Memory{}, pub: &fakePublisher{}}
	r.queue = &fakeQueue{now: &r.now}
	r.n = &notify.Notifier{
		State: r.state, Publisher: r.pub, Routes: routes,
		Rules:  &notify.Rules{Settings: s, Store: r.state, Queue: r.queue},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:    func() time.Time { return r.now },
	}
	return r
}

func (r *rulesRig) record(id, action string, at time.Duration) eventstore.Record {
	typ := "video.live_stream." + action
	occurred := eventstore.FormatTime(rt0.Add(at))
	rec := eventstore.Record{
		EventID: id, Type: typ, StreamID: "a2ae2143-62a1-4eee-b888-4f1406148481", WorkspaceID: "ws-1", WorkspaceName: "Development",
		OccurredAt: occurred, ReceivedAt: eventstore.FormatTime(r.now),
		Payload: fmt.Sprintf(`{"id":%q,"type":%q,"createdAt":%q,"data":{"streamId":"a2ae2143-62a1-4eee-b888-4f1406148481","status":"active"}}`, id, typ, occurred),
	}
	if strings.Contains(action, "simulcast") {
		rec.SimulcastID = "target-1"
	}
	return rec
}

// deliver processes the event that happened at occurred, at the clock's
// time after moving it to arrival (delivering due checks first).
func (r *rulesRig) deliver(arrival time.Duration, id, action string, occurred time.Duration) (notify.Result, error) {
	r.t.Helper()
	r.advance(arrival)
	return r.n.Process(context.Background(), r.record(id, action, occurred))
}

// advance moves the clock, delivering each due check through Check; a
// failed check comes back 30 s later, as SQS would.
func (r *rulesRig) advance(to time.Duration) {
	r.t.Helper()
	until := rt0.Add(to)
	for {
		i := -1
		for j, q := range r.queue.q {
			if q.due.Before(until) && (i < 0 || q.due.Before(r.queue.q[i].due)) {
				i = j
			}
		}
		if i < 0 {
			break
		}
		q := r.queue.q[i]
		r.queue.q = append(r.queue.q[:i], r.queue.q[i+1:]...)
		if q.due.After(r.now) {
			r.now = q.due
		}
		if err := r.n.Check(context.Background(), q.c); err != nil {
			r.queue.q = append(r.queue.q, queuedCheck{c: q.c, due: r.now.Add(30 * time.Second)})
		}
	}
	if until.After(r.now) {
		r.now = until
	}
}

// sms lists the SMS renderings published, with their topic's last part.
func (r *rulesRig) sms() []string {
	var out []string
	for _, p := range r.pub.got {
		out = append(out, p.topic[strings.LastIndexByte(p.topic, ':')+1:]+" "+p.m.SMS)
	}
	return out
}

func TestRulesThroughTheNotifier(t *testing.T) {
	sec := time.Second
	tests := []struct {
		name  string
		run   func(r *rulesRig)
		want  []string
		check func(t *testing.T, r *rulesRig)
	}{
		{
			name: "went live names the targets; a brief drop sends nothing; the check finds nothing",
			run: func(r *rulesRig) {
				r.deliver(0, "c", "connected", 0)
				r.deliver(1*sec, "t", "simulcast_target.broadcasting", 1*sec)
				r.deliver(2*sec, "a0", "active", 2*sec)
				r.deliver(100*sec, "d1", "disconnected", 100*sec)
				r.deliver(105*sec, "a1", "active", 105*sec)
				r.advance(300 * sec)
			},
			want: []string{
				"Simulcast SIMULCAST LIVE: stream a2ae..8481 target target-1 (Development) broadcasting 11:00 UTC",
				"Live LIVE: stream a2ae..8481 (Development) active 11:00 UTC",
			},
			check: func(t *testing.T, r *rulesRig) {
				if !strings.Contains(r.pub.got[1].m.Default, `"simulcastTargets":[{"id":"target-1","status":"broadcasting"}]`) {
					t.Errorf("live alert's default lacks the target: %s", r.pub.got[1].m.Default)
				}
				st, err := r.state.Get(context.Background(), "a2ae2143-62a1-4eee-b888-4f1406148481")
				if err != nil || st.Alerting == nil || len(st.Alerting.Drops) != 1 {
					t.Errorf("state's alerting = %+v, %v; want one brief drop", st.Alerting, err)
				}
			},
		},
		{
			name: "a drop left alone: one alert after the grace, a redelivered check sends nothing, the recovery says the downtime",
			run: func(r *rulesRig) {
				r.deliver(0, "a0", "active", 0)
				r.deliver(100*sec, "d1", "disconnected", 100*sec)
				r.advance(200 * sec)
				c := r.queue.q
				if len(c) != 0 {
					t.Errorf("checks left: %+v", c)
				}
				// SQS delivers the check again.
				if err := r.n.Check(context.Background(), checkqueue.Check{StreamID: "a2ae2143-62a1-4eee-b888-4f1406148481", EventID: "d1"}); err != nil {
					t.Error(err)
				}
				r.deliver(350*sec, "a1", "active", 350*sec)
			},
			want: []string{
				"Live LIVE: stream a2ae..8481 (Development) active 11:00 UTC",
				"Down DISCONNECTED: stream a2ae..8481 (Development) disconnected 11:01 UTC after 1m40s live",
				"Live LIVE again: stream a2ae..8481 back after 4m10s (Development) 11:05 UTC",
			},
		},
		{
			name: "three quick drops: one unstable alert, to the disconnected topic",
			run: func(r *rulesRig) {
				r.deliver(0, "a0", "active", 0)
				for i := range 4 {
					at := time.Duration(100+60*i) * sec
					r.deliver(at, fmt.Sprintf("d%d", i), "disconnected", at)
					r.deliver(at+5*sec, fmt.Sprintf("a%d", i+1), "active", at+5*sec)
				}
				r.advance(1000 * sec)
			},
			want: []string{
				"Live LIVE: stream a2ae..8481 (Development) active 11:00 UTC",
				"Down UNSTABLE: stream a2ae..8481 dropped 3 times in 10 min (Development) 11:03 UTC",
			},
		},
		{
			name: "SNS fails during the check: the check comes again and sends it once",
			run: func(r *rulesRig) {
				r.deliver(0, "a0", "active", 0)
				r.deliver(100*sec, "d1", "disconnected", 100*sec)
				r.pub.err = errors.New("SNS down")
				r.advance(131 * sec)
				r.pub.err = nil
				r.advance(400 * sec)
			},
			want: []string{
				"Live LIVE: stream a2ae..8481 (Development) active 11:00 UTC",
				"Down DISCONNECTED: stream a2ae..8481 (Development) disconnected 11:01 UTC after 1m40s live",
				"Down DISCONNECTED: stream a2ae..8481 (Development) disconnected 11:01 UTC after 1m40s live",
			},
			check: func(t *testing.T, r *rulesRig) {
				// The first attempt reached the fake (and failed); only the
				// second left.
				if r.pub.got[1].m.SMS != r.pub.got[2].m.SMS {
					t.Error("the resent alert differs")
				}
			},
		},
		{
			name: "a retried record after a failed publish sends the same recovery",
			run: func(r *rulesRig) {
				r.deliver(0, "a0", "active", 0)
				r.deliver(100*sec, "d1", "disconnected", 100*sec)
				r.advance(200 * sec)
				r.pub.err = errors.New("SNS down")
				if _, err := r.deliver(300*sec, "a1", "active", 300*sec); !errors.Is(err, notify.ErrPublish) {
					t.Errorf("failed publish: %v, want ErrPublish", err)
				}
				r.pub.err = nil
				res, err := r.deliver(301*sec, "a1", "active", 300*sec)
				if err != nil || !res.Replay || res.Outcome != notify.Published {
					t.Errorf("retry: %+v, %v", res, err)
				}
			},
			want: []string{
				"Live LIVE: stream a2ae..8481 (Development) active 11:00 UTC",
				"Down DISCONNECTED: stream a2ae..8481 (Development) disconnected 11:01 UTC after 1m40s live",
				"Live LIVE again: stream a2ae..8481 back after 3m20s (Development) 11:05 UTC",
				"Live LIVE again: stream a2ae..8481 back after 3m20s (Development) 11:05 UTC",
			},
		},
		{
			name: "the queue fails: the record fails and its retry holds the disconnect again",
			run: func(r *rulesRig) {
				r.deliver(0, "a0", "active", 0)
				r.queue.err = errors.New("SQS down")
				if _, err := r.deliver(100*sec, "d1", "disconnected", 100*sec); !errors.Is(err, notify.ErrEnqueue) {
					t.Errorf("queue failure: %v, want ErrEnqueue", err)
				}
				r.queue.err = nil
				res, err := r.deliver(101*sec, "d1", "disconnected", 100*sec)
				if err != nil || res.Outcome != notify.Held || res.HeldFor != 29*sec {
					t.Errorf("retry: %+v, %v; want held for 29s", res, err)
				}
				r.advance(400 * sec)
			},
			want: []string{
				"Live LIVE: stream a2ae..8481 (Development) active 11:00 UTC",
				"Down DISCONNECTED: stream a2ae..8481 (Development) disconnected 11:01 UTC after 1m40s live",
			},
		},
		{
			name: "active while active sends nothing; a stale disconnect is suppressed",
			run: func(r *rulesRig) {
				r.deliver(0, "a0", "active", 0)
				res, _ := r.deliver(10*sec, "a1", "active", 10*sec)
				if res.Outcome != notify.Recorded {
					t.Errorf("active while active: %s, want recorded", res.Outcome)
				}
				res, _ = r.deliver(20*sec, "d0", "disconnected", 5*sec)
				if res.Outcome != notify.Suppressed {
					t.Errorf("stale disconnect: %s, want suppressed", res.Outcome)
				}
				r.advance(400 * sec)
			},
			want: []string{"Live LIVE: stream a2ae..8481 (Development) active 11:00 UTC"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRulesRig(t, alertrules.Defaults())
			tc.run(r)
			if got := r.sms(); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("published:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// Outcomes of the rules' steps, and grace 0: today's behaviour, every
// disconnect at once.
func TestRulesOutcomes(t *testing.T) {
	sec := time.Second
	r := newRulesRig(t, alertrules.Defaults())
	steps := []struct {
		arrival, at time.Duration
		id, action  string
		want        notify.Outcome
	}{
		{0, 0, "a0", "active", notify.Published},
		{100 * sec, 100 * sec, "d1", "disconnected", notify.Held},
		{102 * sec, 102 * sec, "a1", "active", notify.BriefDrop},
		{200 * sec, 200 * sec, "d2", "disconnected", notify.Held},
		{240 * sec, 240 * sec, "i", "idle", notify.Recorded},
	}
	for _, st := range steps {
		res, err := r.deliver(st.arrival, st.id, st.action, st.at)
		if err != nil || res.Outcome != st.want {
			t.Errorf("%s: %s, %v; want %s", st.id, res.Outcome, err, st.want)
		}
	}
	if r.queue.sent != 2 {
		t.Errorf("%d checks queued, want 2", r.queue.sent)
	}

	g0 := alertrules.Defaults()
	g0.Grace = 0
	r = newRulesRig(t, g0)
	for _, st := range []struct {
		id, action string
		at         time.Duration
	}{{"a0", "active", 0}, {"d1", "disconnected", 10 * sec}, {"a1", "active", 12 * sec}} {
		if res, err := r.deliver(st.at, st.id, st.action, st.at); err != nil || res.Outcome != notify.Published {
			t.Errorf("grace 0, %s: %s, %v; want published", st.id, res.Outcome, err)
		}
	}
	if r.queue.sent != 0 {
		t.Errorf("grace 0 queued %d checks", r.queue.sent)
	}
}

// Test streams: the rules decide as for any stream, and with test events
// not published nothing leaves, the check included.
func TestRulesSkipTestStreams(t *testing.T) {
	r := newRulesRig(t, alertrules.Defaults())
	r.n.SkipTestEvents = true
	rec := r.record("a0", "active", 0)
	rec.Test = true
	if res, err := r.n.Process(context.Background(), rec); err != nil || res.Outcome != notify.TestSkipped {
		t.Errorf("active: %+v, %v", res, err)
	}
	rec = r.record("d1", "disconnected", 10*time.Second)
	rec.Test = true
	if res, err := r.n.Process(context.Background(), rec); err != nil || res.Outcome != notify.Held {
		t.Errorf("disconnect: %+v, %v", res, err)
	}
	if len(r.queue.q) != 1 || !r.queue.q[0].c.Test {
		t.Fatalf("queued %+v, want one check of a test stream", r.queue.q)
	}
	r.now = r.queue.q[0].due
	res, err := r.n.CheckOnce(context.Background(), r.queue.q[0].c)
	if err != nil || res.Reason != alertrules.CheckAlerted || res.Published {
		t.Errorf("check: %+v, %v; want decided, not published", res, err)
	}
	if len(r.pub.got) != 0 {
		t.Errorf("published %d alerts about a test stream", len(r.pub.got))
	}
	if res, _ := r.n.CheckOnce(context.Background(), r.queue.q[0].c); res.Reason != alertrules.CheckAlreadyAlerted {
		t.Errorf("check again: %s, want already alerted", res.Reason)
	}
}

// A check of a stream the state does not know, or with no rules configured.
func TestCheckEdges(t *testing.T) {
	r := newRulesRig(t, alertrules.Defaults())
	res, err := r.n.CheckOnce(context.Background(), checkqueue.Check{StreamID: "nobody", EventID: "d"})
	if err != nil || res.Reason != alertrules.CheckNotHeld {
		t.Errorf("unknown stream: %+v, %v", res, err)
	}
	if err := (&notify.Notifier{}).Check(context.Background(), checkqueue.Check{StreamID: "s", EventID: "d"}); err == nil {
		t.Error("a check without rules configured succeeded")
	}
	var _ checkqueue.Checker = r.n
}

// hookState runs a hook right after the state write of one event, before
// the notifier goes on with it: another delivery of the stream processed
// in between, as two batches of one shard are at once.
type hookState struct {
	streamstate.Applier
	after string
	hook  func()
}

func (h *hookState) Apply(ctx context.Context, u streamstate.Update) (streamstate.Transition, error) {
	tr, err := h.Applier.Apply(ctx, u)
	if u.EventID == h.after && h.hook != nil {
		hook := h.hook
		h.hook = nil
		hook()
	}
	return tr, err
}

// A disconnect and the reconnection a second later, processed at once: the
// reconnection's state write lands between the disconnect's state write and
// its rules' decision. The disconnect's decision cannot be stored (a newer
// event of the stream was applied); the reconnection's processing decides
// it first, from the memory it got back, and then itself: a brief drop.
// Nothing is held, so no DISCONNECTED reaches anyone for a stream that was
// back within a second.
func TestRulesRaceOfTwoEventsOfOneStream(t *testing.T) {
	r := newRulesRig(t, alertrules.Defaults())
	if _, err := r.deliver(0, "a0", "active", 0); err != nil {
		t.Fatal(err)
	}
	var back notify.Result
	var backErr error
	r.n.State = &hookState{Applier: r.state, after: "d1", hook: func() {
		back, backErr = r.n.Process(context.Background(), r.record("a1", "active", 101*time.Second))
	}}
	r.now = rt0.Add(101 * time.Second)
	drop, err := r.n.Process(context.Background(), r.record("d1", "disconnected", 100*time.Second))
	if err != nil || backErr != nil {
		t.Fatalf("disconnect: %v; reconnection: %v", err, backErr)
	}
	if drop.Outcome == notify.Held || len(r.queue.q) != 0 {
		t.Errorf("the disconnect was held (%s, %d checks queued), though a newer event decided", drop.Outcome, len(r.queue.q))
	}
	if back.Outcome != notify.BriefDrop {
		t.Errorf("the reconnection: %s, want brief_drop", back.Outcome)
	}
	r.advance(600 * time.Second)
	if got := r.sms(); len(got) != 1 {
		t.Errorf("alerts %q, want only the first LIVE", got)
	}
}

// A disconnect that reached us after its grace (decided at once) and the
// idle right after it, processed at once: the idle's processing decides
// the disconnect the other could not store, and sends its alert, once.
func TestRulesRaceNothingLost(t *testing.T) {
	r := newRulesRig(t, alertrules.Defaults())
	if _, err := r.deliver(0, "a0", "active", 0); err != nil {
		t.Fatal(err)
	}
	var idle notify.Result
	var idleErr error
	r.n.State = &hookState{Applier: r.state, after: "d1", hook: func() {
		idle, idleErr = r.n.Process(context.Background(), r.record("i1", "idle", 160*time.Second))
	}}
	r.now = rt0.Add(200 * time.Second)
	drop, err := r.n.Process(context.Background(), r.record("d1", "disconnected", 100*time.Second))
	if err != nil || idleErr != nil {
		t.Fatalf("disconnect: %v; idle: %v", err, idleErr)
	}
	if drop.Outcome == notify.Published || idle.Outcome != notify.Published {
		t.Errorf("disconnect %s, idle %s; want the idle's processing to send the disconnect", drop.Outcome, idle.Outcome)
	}
	r.advance(600 * time.Second)
	want := []string{
		"Live LIVE: stream a2ae..8481 (Development) active 11:00 UTC",
		"Down DISCONNECTED: stream a2ae..8481 (Development) disconnected 11:01 UTC after 1m40s live",
	}
	if got := r.sms(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
