package alertrules_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
)

var t0 = time.Date(2024, 4, 2, 11, 0, 0, 0, time.UTC)

func at(seconds int) time.Time { return t0.Add(time.Duration(seconds) * time.Second) }

// entry is one event of a stream's log: when it happened and when it
// reached us.
type entry struct {
	id       string
	status   string
	occurred int
	received int
}

// stream is a stream's log seen through the rules, applied in log order
// (by occurredAt) by passes that run whenever the test says: the way
// pkg/notify drives the rules. An entry received after newer ones were
// applied is late.
type stream struct {
	s          alertrules.Settings
	log        []entry
	applied    int // entries of log applied, in log order
	status     string
	mem        alertrules.Memory
	sent       []string
	drops      int
	appliedIDs map[string]bool
}

func newStream(s alertrules.Settings) *stream {
	return &stream{s: s, appliedIDs: map[string]bool{}}
}

func show(a alertrules.Alert) string {
	switch a.Kind {
	case alertrules.KindDisconnected:
		return fmt.Sprintf("disconnected %s live=%s", a.EventID, a.LiveFor)
	case alertrules.KindRecovery:
		return fmt.Sprintf("recovery %s down=%s", a.EventID, a.DownFor)
	case alertrules.KindUnstable:
		return fmt.Sprintf("unstable %s drops=%d/%s", a.EventID, a.Drops, a.Window)
	}
	return fmt.Sprintf("%s %s from %q", a.Kind, a.EventID, a.PreviousStatus)
}

func (st *stream) take(d alertrules.Decision) {
	st.mem = d.Memory
	for _, a := range d.Alerts {
		st.sent = append(st.sent, show(a))
	}
	if d.BriefDrop {
		st.drops++
	}
}

// pass applies, at now (seconds), what of the log has reached us by then,
// as the notifier does: the entries not yet applied, in the order they
// reached us (which is the log's order for every entry but a late one: one
// that reached us after a newer one had), each after settling the memory
// at its arrival; then it settles at now.
func (st *stream) pass(now int) {
	var arrived []entry
	for _, e := range st.log {
		if e.received <= now {
			arrived = append(arrived, e)
		}
	}
	slices.SortStableFunc(arrived, func(a, b entry) int { return a.occurred - b.occurred })
	todo := slices.Clone(arrived)
	slices.SortStableFunc(todo, func(a, b entry) int { return a.received - b.received })
	for _, e := range todo {
		if st.appliedIDs[e.id] {
			continue
		}
		st.appliedIDs[e.id] = true
		st.take(alertrules.Settle(st.mem, st.s, at(e.received)))
		tr := alertrules.Transition{EventID: e.id, OccurredAt: at(e.occurred), ReceivedAt: at(e.received), Previous: st.status, Status: e.status}
		late := false
		var next *alertrules.Transition
		for _, f := range arrived {
			late = late || (f.occurred > e.occurred && f.received < e.received)
			if next == nil && f.occurred > e.occurred && f.received <= e.received {
				next = &alertrules.Transition{EventID: f.id, OccurredAt: at(f.occurred), ReceivedAt: at(f.received), Status: f.status}
			}
		}
		if late {
			st.take(alertrules.Late(st.mem, tr, next, st.s))
			continue
		}
		st.take(alertrules.Apply(st.mem, tr, st.s))
		st.status = e.status
	}
	st.take(alertrules.Settle(st.mem, st.s, at(now)))
}

// send adds an event to the log: it happened at occurred and reached us
// at received (seconds).
func (st *stream) send(id, status string, occurred, received int) {
	st.log = append(st.log, entry{id: id, status: status, occurred: occurred, received: received})
}

type step struct {
	id                 string
	status             string
	occurred, received int
}

func ev(id, status string, occurred, received int) step { return step{id, status, occurred, received} }

// run sends steps and runs a pass at every arrival and every due time,
// then one at the end.
func run(s alertrules.Settings, steps []step, end int) *stream {
	st := newStream(s)
	times := map[int]bool{end: true}
	for _, e := range steps {
		st.send(e.id, e.status, e.occurred, e.received)
		times[e.received] = true
	}
	ordered := func() []int {
		var ts []int
		for t := range times {
			ts = append(ts, t)
		}
		slices.Sort(ts)
		return ts
	}
	for done := map[int]bool{}; ; {
		progressed := false
		for _, t := range ordered() {
			if done[t] {
				continue
			}
			done[t] = true
			progressed = true
			st.pass(t)
			if due, held := alertrules.Pending(st.mem, s); held {
				times[int(due.Sub(t0)/time.Second)+1] = true
			}
			break
		}
		if !progressed {
			return st
		}
	}
}

func TestRules(t *testing.T) {
	s := alertrules.Defaults() // 30 s grace, 3 drops in 10 min
	tests := []struct {
		name  string
		steps []step
		want  []string
		drops int
	}{
		{name: "a first active is live",
			steps: []step{ev("c", "connected", 0, 0), ev("a", "active", 1, 1)},
			want:  []string{`live a from "connected"`}},
		{name: "an active while live says nothing",
			steps: []step{ev("a", "active", 1, 1), ev("a2", "active", 5, 5)},
			want:  []string{`live a from ""`}},
		{name: "a brief drop sends nothing and is counted",
			steps: []step{ev("a", "active", 0, 0), ev("d", "disconnected", 100, 100), ev("c", "connected", 105, 105), ev("a2", "active", 106, 106)},
			want:  []string{`live a from ""`}, drops: 1},
		{name: "a drop left alone is alerted at its due time, then the recovery says how long",
			steps: []step{ev("a", "active", 0, 0), ev("d", "disconnected", 100, 100), ev("a2", "active", 250, 250)},
			want:  []string{`live a from ""`, "disconnected d live=1m40s", "recovery a2 down=2m30s"}},
		{name: "a reconnection after the grace by event time is no brief drop",
			steps: []step{ev("a", "active", 0, 0), ev("d", "disconnected", 100, 100), ev("a2", "active", 131, 131)},
			want:  []string{`live a from ""`, "disconnected d live=1m40s", "recovery a2 down=31s"}},
		{name: "a reconnection within the grace that reaches us after the drop was due is a recovery",
			steps: []step{ev("a", "active", 0, 0), ev("d", "disconnected", 100, 100), ev("a2", "active", 110, 200)},
			want:  []string{`live a from ""`, "disconnected d live=1m40s", "recovery a2 down=10s"}},
		{name: "a disconnect that reaches us after its grace is due when it arrives",
			steps: []step{ev("a", "active", 0, 0), ev("d", "disconnected", 100, 500)},
			want:  []string{`live a from ""`, "disconnected d live=1m40s"}},
		{name: "a late disconnect and its reconnection arriving together are a brief drop",
			steps: []step{ev("a", "active", 0, 0), ev("d", "disconnected", 100, 500), ev("c", "active", 102, 500)},
			want:  []string{`live a from ""`}, drops: 1},
		{name: "the session ends while a disconnect is held: alerted at once",
			steps: []step{ev("a", "active", 0, 0), ev("d", "disconnected", 100, 100), ev("i", "idle", 110, 110)},
			want:  []string{`live a from ""`, "disconnected d live=1m40s"}},
		{name: "after an idle the next active is live again, not a recovery",
			steps: []step{ev("a", "active", 0, 0), ev("d", "disconnected", 100, 100), ev("i", "idle", 200, 200), ev("a2", "active", 300, 300)},
			want:  []string{`live a from ""`, "disconnected d live=1m40s", `live a2 from "idle"`}},
		{name: "a second disconnect while one is held says nothing new",
			steps: []step{ev("a", "active", 0, 0), ev("d", "disconnected", 100, 100), ev("d2", "disconnected", 101, 101)},
			want:  []string{`live a from ""`, "disconnected d live=1m40s"}},
		{name: "an active that reaches us after the disconnect that ended it says nothing",
			steps: []step{ev("d", "disconnected", 100, 100), ev("a", "active", 50, 200)},
			want:  []string{"disconnected d live=0s"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := run(s, tc.steps, 2000)
			if !slices.Equal(st.sent, tc.want) {
				t.Errorf("sent\n  %s\nwant\n  %s", strings.Join(st.sent, "\n  "), strings.Join(tc.want, "\n  "))
			}
			if st.drops != tc.drops {
				t.Errorf("brief drops = %d, want %d", st.drops, tc.drops)
			}
			if st.mem.Held != nil {
				t.Errorf("a disconnect is still held at the end: %+v", st.mem.Held)
			}
		})
	}
}

// drop is brief drop n at second t: a disconnect, and the active 5 s later.
func drop(n, t int) []step {
	return []step{ev(fmt.Sprintf("d%d", n), "disconnected", t, t), ev(fmt.Sprintf("a%d", n), "active", t+5, t+5)}
}

func TestFlapping(t *testing.T) {
	s := alertrules.Defaults()
	steps := []step{ev("a", "active", 0, 0)}
	for i, t := range []int{100, 200, 300, 400, 900, 1000} {
		steps = append(steps, drop(i+1, t)...)
	}
	st := run(s, steps, 5000)
	want := []string{`live a from ""`, "unstable a3 drops=3/10m0s"}
	if !slices.Equal(st.sent, want) {
		t.Errorf("sent %q, want %q (one unstable alert per window)", st.sent, want)
	}
	// Past the window of the first unstable alert, the drops at 900, 1000
	// and 1200 s are three in a window again.
	for i, t := range []int{1200, 1250, 1300} {
		steps = append(steps, drop(10+i, t)...)
	}
	st = run(s, steps, 5000)
	want = append(want, "unstable a10 drops=3/10m0s")
	if !slices.Equal(st.sent, want) {
		t.Errorf("sent %q, want %q", st.sent, want)
	}
}

// A late brief drop (FastPix delivered it after the stream's later events
// were applied) is never alerted, but counts towards flapping, once.
func TestLateDropCounts(t *testing.T) {
	s := alertrules.Defaults()
	m := alertrules.Memory{LiveSince: at(0), Drops: []time.Time{at(100), at(200)}}
	drop := alertrules.Transition{EventID: "dl", OccurredAt: at(300), ReceivedAt: at(900), Status: "disconnected"}
	back := alertrules.Transition{EventID: "al", OccurredAt: at(303), ReceivedAt: at(303), Status: "active"}
	d := alertrules.Late(m, drop, &back, s)
	if !d.BriefDrop || len(d.Alerts) != 1 || d.Alerts[0].Kind != alertrules.KindUnstable {
		t.Fatalf("late brief drop: %+v, want a brief drop making the stream unstable", d)
	}
	again := alertrules.Late(d.Memory, drop, &back, s)
	if len(again.Alerts) != 0 || len(again.Memory.Drops) != 3 {
		t.Errorf("the same late drop again: alerts %v, drops %v; want nothing new", again.Alerts, again.Memory.Drops)
	}
	long := alertrules.Transition{EventID: "al", OccurredAt: at(340), ReceivedAt: at(340), Status: "active"}
	if d := alertrules.Late(m, drop, &long, s); d.BriefDrop || len(d.Alerts) > 0 {
		t.Errorf("a late drop followed by a return after the grace: %+v, want nothing", d)
	}
	if d := alertrules.Late(m, drop, nil, s); d.BriefDrop || len(d.Alerts) > 0 {
		t.Errorf("a late drop with nothing after it: %+v, want nothing", d)
	}
}

func TestGraceZeroAlertsAtOnce(t *testing.T) {
	s := alertrules.Defaults()
	s.Grace = 0
	st := run(s, []step{ev("a", "active", 0, 0), ev("d", "disconnected", 100, 100), ev("a2", "active", 101, 101)}, 500)
	want := []string{`live a from ""`, "disconnected d live=1m40s", "recovery a2 down=1s"}
	if !slices.Equal(st.sent, want) {
		t.Errorf("sent %q, want %q", st.sent, want)
	}
}

// The rules decide the same, whatever the passes' schedule: a pass after
// every arrival, or passes only now and then, as long as one runs by each
// due time (the check) and one at the end. Random lives, many schedules.
func TestDecisionsDoNotDependOnTheSchedule(t *testing.T) {
	s := alertrules.Defaults()
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var steps []step
		now := 0
		status := ""
		for i := range 30 {
			now += 1 + rng.IntN(40)
			next := []string{"connected", "active", "disconnected", "idle"}[rng.IntN(4)]
			if status == "disconnected" && rng.IntN(2) == 0 {
				next = "active"
			}
			received := now
			if rng.IntN(8) == 0 {
				received += rng.IntN(120) // a delivery FastPix retried
			}
			steps = append(steps, ev(fmt.Sprintf("e%d", i), next, now, received))
			status = next
		}
		every := run(s, steps, now+2000)
		// Sparse passes: only at due times, at a few random times and at the
		// end.
		st := newStream(s)
		for _, e := range steps {
			st.send(e.id, e.status, e.occurred, e.received)
		}
		arrivals := map[int]bool{}
		for _, e := range steps {
			arrivals[e.received] = true
		}
		for t := 0; t <= now+2000; t++ {
			due, held := alertrules.Pending(st.mem, s)
			if (held && t == int(due.Sub(t0)/time.Second)+1) || (arrivals[t] && rng.IntN(3) == 0) || t == now+2000 {
				st.pass(t)
			}
		}
		if !slices.Equal(every.sent, st.sent) || every.drops != st.drops {
			t.Fatalf("seed %d: a pass at every arrival sent %q (%d drops); sparse passes sent %q (%d drops)",
				seed, every.sent, every.drops, st.sent, st.drops)
		}
	}
}

// The memory is stored as JSON in the stream's state item: it reads back
// the same, and a memory written before due times existed (with the old
// fields) still reads.
func TestMemoryJSON(t *testing.T) {
	m := alertrules.Memory{
		LiveSince:  at(1),
		Held:       &alertrules.Held{EventID: "d", OccurredAt: at(100), PreviousStatus: "active", Due: at(130)},
		Down:       &alertrules.Down{Alert: alertrules.Alert{Kind: alertrules.KindDisconnected, EventID: "d0", OccurredAt: at(50), Grace: 30 * time.Second}},
		Drops:      []time.Time{at(10), at(20)},
		UnstableAt: at(30),
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back alertrules.Memory
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalise(m), back) {
		t.Errorf("round trip:\n%+v\n%+v", m, back)
	}
	zero, _ := json.Marshal(alertrules.Memory{})
	if string(zero) != "{}" {
		t.Errorf("zero memory = %s, want {}", zero)
	}
	legacy := `{"liveSince":"2024-04-02T11:00:01Z","held":{"eventId":"d","occurredAt":"2024-04-02T11:01:40Z"},` +
		`"down":{"alert":{"kind":"disconnected","eventId":"d0","occurredAt":"2024-04-02T11:00:50Z","status":"disconnected"},"published":true},` +
		`"last":{"eventId":"d","occurredAt":"2024-04-02T11:01:40Z"}}`
	var old alertrules.Memory
	if err := json.Unmarshal([]byte(legacy), &old); err != nil {
		t.Fatalf("a memory written by the previous version: %v", err)
	}
	if due, held := alertrules.Pending(old, alertrules.Defaults()); !held || !due.Equal(at(130)) {
		t.Errorf("legacy held disconnect due at %v (held %v), want its occurredAt plus the grace", due, held)
	}
}

// normalise drops monotonic clock readings and locations, which JSON does
// not keep.
func normalise(m alertrules.Memory) alertrules.Memory {
	b, _ := json.Marshal(m)
	var out alertrules.Memory
	_ = json.Unmarshal(b, &out)
	return out
}

// A long flapping encoder never grows the memory past MaxDrops.
func TestDropsBounded(t *testing.T) {
	s := alertrules.Settings{Grace: 30 * time.Second, FlapThreshold: 0, FlapWindow: 24 * time.Hour}
	var steps []step
	for i := range 200 {
		steps = append(steps, drop(i, 100+i*10)...)
	}
	st := run(s, steps, 10000)
	if len(st.mem.Drops) != alertrules.MaxDrops {
		t.Errorf("drops kept = %d, want %d", len(st.mem.Drops), alertrules.MaxDrops)
	}
}

func TestSettingsFromEnv(t *testing.T) {
	tests := []struct {
		env     map[string]string
		want    alertrules.Settings
		wantErr bool
	}{
		{env: nil, want: alertrules.Settings{Grace: 30 * time.Second, FlapThreshold: 3, FlapWindow: 10 * time.Minute}},
		{env: map[string]string{"DISCONNECT_GRACE_SECONDS": "0"}, want: alertrules.Settings{Grace: 0, FlapThreshold: 3, FlapWindow: 10 * time.Minute}},
		{env: map[string]string{"DISCONNECT_GRACE_SECONDS": "900", "FLAP_THRESHOLD": "0", "FLAP_WINDOW_MINUTES": "1"},
			want: alertrules.Settings{Grace: 900 * time.Second, FlapThreshold: 0, FlapWindow: time.Minute}},
		{env: map[string]string{"DISCONNECT_GRACE_SECONDS": " 3 "}, want: alertrules.Settings{Grace: 3 * time.Second, FlapThreshold: 3, FlapWindow: 10 * time.Minute}},
		{env: map[string]string{"DISCONNECT_GRACE_SECONDS": "901"}, wantErr: true},
		{env: map[string]string{"DISCONNECT_GRACE_SECONDS": "-1"}, wantErr: true},
		{env: map[string]string{"DISCONNECT_GRACE_SECONDS": "30s"}, wantErr: true},
		{env: map[string]string{"FLAP_THRESHOLD": "-2"}, wantErr: true},
		{env: map[string]string{"FLAP_THRESHOLD": "51"}, wantErr: true},
		{env: map[string]string{"FLAP_WINDOW_MINUTES": "0"}, wantErr: true},
		{env: map[string]string{"FLAP_WINDOW_MINUTES": "ten"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.env), func(t *testing.T) {
			got, err := alertrules.SettingsFromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr {
				if !errors.Is(err, alertrules.ErrSettings) {
					t.Fatalf("err = %v, want ErrSettings", err)
				}
				for name := range tc.env {
					if !strings.Contains(err.Error(), name) {
						t.Errorf("error %q does not name %s", err, name)
					}
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// A target is alerted each time it starts broadcasting, and for nothing
// else: its failures and ends are on the change feed.
func TestTargetAlertsWhenBroadcasting(t *testing.T) {
	at := time.Date(2024, 4, 2, 11, 17, 52, 0, time.UTC)
	for _, tc := range []struct {
		previous, status string
		want             bool
	}{
		{"", "broadcasting", true},
		{"connected", "broadcasting", true},
		{"broadcasting", "broadcasting", true}, // a new event id: FastPix said it again
		{"broadcasting", "idle", false},
		{"broadcasting", "failed", false},
		{"", "connected", false},
	} {
		got := alertrules.Target(alertrules.Transition{EventID: "e", OccurredAt: at, Previous: tc.previous, Status: tc.status})
		if !tc.want {
			if len(got) != 0 {
				t.Errorf("%s → %s: %+v, want nothing", tc.previous, tc.status, got)
			}
			continue
		}
		want := []alertrules.Alert{{Kind: alertrules.KindSimulcast, EventID: "e", OccurredAt: at, PreviousStatus: tc.previous, Status: "broadcasting"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s → %s: %+v, want %+v", tc.previous, tc.status, got, want)
		}
	}
}

func TestMark(t *testing.T) {
	at := time.Date(2024, 4, 2, 11, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		m     alertrules.Memory
		mark  string
		until time.Time
	}{
		{"never seen", alertrules.Memory{}, "", time.Time{}},
		{"live", alertrules.Memory{LiveSince: at}, "", time.Time{}},
		{"held", alertrules.Memory{LiveSince: at, Held: &alertrules.Held{EventID: "d", OccurredAt: at.Add(time.Minute), Due: at.Add(time.Minute + 30*time.Second)}}, alertrules.MarkHeld, at.Add(time.Minute + 30*time.Second)},
		{"held while unstable: held says more", alertrules.Memory{LiveSince: at, UnstableAt: at.Add(time.Second), Held: &alertrules.Held{EventID: "d", Due: at.Add(time.Hour)}}, alertrules.MarkHeld, at.Add(time.Hour)},
		{"unstable this session", alertrules.Memory{LiveSince: at, UnstableAt: at.Add(time.Minute)}, alertrules.MarkUnstable, time.Time{}},
		{"unstable in an earlier session", alertrules.Memory{LiveSince: at.Add(time.Hour), UnstableAt: at.Add(time.Minute)}, "", time.Time{}},
		{"session over", alertrules.Memory{UnstableAt: at.Add(time.Minute)}, "", time.Time{}},
	} {
		mark, until := tc.m.Mark()
		if mark != tc.mark || !until.Equal(tc.until) {
			t.Errorf("%s: %q until %v, want %q until %v", tc.name, mark, until, tc.mark, tc.until)
		}
	}
}
