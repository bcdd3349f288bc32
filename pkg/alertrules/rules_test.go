package alertrules_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
)

var t0 = time.Date(2024, 4, 2, 11, 0, 0, 0, time.UTC)

func at(seconds int) time.Time { return t0.Add(time.Duration(seconds) * time.Second) }

// queued is a check in the fake delay queue.
type queued struct {
	eventID string
	due     time.Time
}

// world is a stream seen through the rules, with a fake clock, a fake delay
// queue and a fake publisher. Its state layer is the stream state's rule:
// an event applies only when it is newer (occurredAt, then event id) than
// the last one applied, the very same event again included.
type world struct {
	t      *testing.T
	s      alertrules.Settings
	now    time.Time
	status string
	lastAt time.Time
	lastID string
	// prevOfLast is the status before the last event applied: what the
	// state's ReturnValues give when that event is applied again.
	prevOfLast string
	mem        alertrules.Memory
	queue      []queued
	sent       []string // published alerts, rendered by show
	drops      int      // brief drops counted
	failNext   int      // publishes to fail from now on
}

func newWorld(t *testing.T, s alertrules.Settings) *world {
	return &world{t: t, s: s, now: t0}
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

var errPublish = errors.New("SNS down")

func (w *world) publish(a alertrules.Alert) error {
	if w.failNext > 0 {
		w.failNext--
		return errPublish
	}
	w.sent = append(w.sent, show(a))
	return nil
}

// arrive delivers an event that happened at occurredAt (seconds after t0)
// now; the clock first moves to arrival (seconds), delivering due checks.
// It returns the rules' decision, or false when the state layer found the
// event stale. A failed publish leaves the memory written (as the notifier
// does: state first, then publish) and returns the error, as a retried
// record would be.
func (w *world) arrive(arrival int, id, status string, occurredAt int) (alertrules.Decision, error) {
	w.t.Helper()
	w.advance(arrival)
	occ := at(occurredAt)
	if !w.lastAt.IsZero() && (occ.Before(w.lastAt) || occ.Equal(w.lastAt) && id < w.lastID) {
		return alertrules.Decision{Stale: true}, nil
	}
	prev := w.status
	if w.lastID == id {
		prev = w.prevOfLast
	}
	w.prevOfLast, w.status, w.lastAt, w.lastID = prev, status, occ, id
	d := alertrules.Apply(w.mem, alertrules.Transition{EventID: id, OccurredAt: occ, Previous: prev, Status: status}, w.s, w.now)
	if d.Replay && d.Changed {
		w.t.Errorf("event %s: a replay changed the memory", id)
	}
	w.mem = d.Memory
	if d.BriefDrop {
		w.drops++
	}
	if d.Hold != nil {
		if d.Hold.Delay < 0 || d.Hold.Delay == 0 && !d.Replay || d.Hold.Delay > alertrules.MaxGrace {
			w.t.Errorf("event %s: hold delay %s out of (0, %s]", id, d.Hold.Delay, alertrules.MaxGrace)
		}
		w.queue = append(w.queue, queued{eventID: d.Hold.EventID, due: w.now.Add(d.Hold.Delay)})
	}
	for _, a := range d.Alerts {
		if err := w.publish(a); err != nil {
			return d, err
		}
	}
	return d, nil
}

// advance moves the clock to seconds after t0, delivering every check that
// falls due before it, at its due time.
func (w *world) advance(seconds int) {
	w.t.Helper()
	until := at(seconds)
	for {
		slices.SortStableFunc(w.queue, func(a, b queued) int { return a.due.Compare(b.due) })
		// A check due at the very moment an event arrives comes after it.
		if len(w.queue) == 0 || !w.queue[0].due.Before(until) {
			break
		}
		q := w.queue[0]
		w.queue = w.queue[1:]
		if q.due.After(w.now) {
			w.now = q.due
		}
		if err := w.check(q.eventID); err != nil {
			// SQS delivers it again after the visibility timeout.
			w.queue = append(w.queue, queued{eventID: q.eventID, due: w.now.Add(30 * time.Second)})
		}
	}
	if until.After(w.now) {
		w.now = until
	}
}

// check is the consumer: decide, store, publish, confirm.
func (w *world) check(eventID string) error {
	w.t.Helper()
	d := alertrules.DecideCheck(w.mem, eventID, w.s, w.now)
	if d.Reason == alertrules.CheckEarly {
		if d.Requeue <= 0 {
			w.t.Errorf("early check of %s requeued after %s", eventID, d.Requeue)
		}
		w.queue = append(w.queue, queued{eventID: eventID, due: w.now.Add(d.Requeue)})
		return nil
	}
	if d.Changed {
		w.mem = d.Memory
	}
	if d.Alert == nil {
		return nil
	}
	if err := w.publish(*d.Alert); err != nil {
		return err
	}
	mem, changed := alertrules.Confirm(w.mem, eventID)
	if !changed {
		w.t.Errorf("check %s: Confirm changed nothing after a publish", eventID)
	}
	w.mem = mem
	return nil
}

type step struct {
	arrival    int // seconds after t0; for a check: the delivery time
	id, status string
	occurred   int
	check      bool // deliver a check of id now (a redelivery or an early one)
	failPub    int  // publishes to fail from this step on
}

func ev(arrival int, id, status string, occurred int) step {
	return step{arrival: arrival, id: id, status: status, occurred: occurred}
}

func checkOf(arrival int, id string) step { return step{arrival: arrival, id: id, check: true} }

func failing(n int, s step) step { s.failPub = n; return s }

func TestRules(t *testing.T) {
	def := alertrules.Defaults() // 30 s grace, 3 drops in 10 min
	grace0 := def
	grace0.Grace = 0
	noFlap := def
	noFlap.FlapThreshold = 0
	live := ev(0, "a0", "active", 0)
	tests := []struct {
		name  string
		s     alertrules.Settings
		steps []step
		end   int // the clock's final position, seconds (an hour when 0)
		want  []string
		drops int
	}{
		{
			name:  "first active from created goes live",
			steps: []step{ev(0, "c", "created", 0), ev(1, "a0", "active", 1)},
			want:  []string{`live a0 from "created"`},
		},
		{
			name:  "first active from idle and from connected go live",
			steps: []step{ev(0, "i", "idle", 0), ev(1, "c", "connected", 1), ev(2, "a0", "active", 2)},
			want:  []string{`live a0 from "connected"`},
		},
		{
			name:  "active while active (another event id) says nothing",
			steps: []step{live, ev(5, "a1", "active", 5), ev(6, "a2", "active", 6)},
			want:  []string{`live a0 from ""`},
		},
		{
			name:  "brief drop: reconnect (active) within the grace sends nothing",
			steps: []step{live, ev(100, "d1", "disconnected", 100), ev(110, "a1", "active", 110)},
			end:   300,
			want:  []string{`live a0 from ""`},
			drops: 1,
		},
		{
			name:  "brief drop: connected then active within the grace send nothing",
			steps: []step{live, ev(100, "d1", "disconnected", 100), ev(120, "c1", "connected", 120), ev(140, "a1", "active", 140)},
			end:   300,
			want:  []string{`live a0 from ""`},
			drops: 1,
		},
		{
			name:  "reconnect exactly at the end of the grace is brief",
			steps: []step{live, ev(100, "d1", "disconnected", 100), ev(130, "a1", "active", 130)},
			end:   300,
			want:  []string{`live a0 from ""`},
			drops: 1,
		},
		{
			name:  "drop left alone: alerted by the check after the grace, then the recovery says the downtime",
			steps: []step{live, ev(100, "d1", "disconnected", 100), ev(350, "a1", "active", 350)},
			want:  []string{`live a0 from ""`, "disconnected d1 live=1m40s", "recovery a1 down=4m10s"},
		},
		{
			name:  "connected after an alerted drop says nothing; the active is the recovery",
			steps: []step{live, ev(100, "d1", "disconnected", 100), ev(200, "c1", "connected", 200), ev(210, "a1", "active", 210)},
			want:  []string{`live a0 from ""`, "disconnected d1 live=1m40s", "recovery a1 down=1m50s"},
		},
		{
			name:  "reconnect arrives before the disconnect (out of order): the disconnect is stale, nothing sent",
			steps: []step{live, ev(112, "a1", "active", 110), ev(113, "d1", "disconnected", 100)},
			end:   300,
			want:  []string{`live a0 from ""`},
		},
		{
			name:  "late disconnect past its grace is decided at once",
			steps: []step{live, ev(140, "d1", "disconnected", 100), ev(150, "a1", "active", 150)},
			want:  []string{`live a0 from ""`, "disconnected d1 live=1m40s", "recovery a1 down=50s"},
		},
		{
			name:  "late disconnect within its grace is held for what is left",
			steps: []step{live, ev(120, "d1", "disconnected", 100)},
			end:   129,
			want:  []string{`live a0 from ""`},
		},
		{
			name:  "late disconnect within its grace is alerted when the rest has passed",
			steps: []step{live, ev(120, "d1", "disconnected", 100)},
			end:   131,
			want:  []string{`live a0 from ""`, "disconnected d1 live=1m40s"},
		},
		{
			name:  "late reconnect within the grace by event time, arriving before the check: brief",
			steps: []step{live, ev(100, "d1", "disconnected", 100), ev(129, "a1", "active", 120)},
			end:   300,
			want:  []string{`live a0 from ""`},
			drops: 1,
		},
		{
			name:  "reconnect within the grace by event time but arriving after the check: already alerted, so a recovery",
			steps: []step{live, ev(100, "d1", "disconnected", 100), ev(135, "a1", "active", 120)},
			want:  []string{`live a0 from ""`, "disconnected d1 live=1m40s", "recovery a1 down=20s"},
		},
		{
			name: "reconnect after the grace by event time, before the check ran: disconnect and recovery together, check finds nothing",
			steps: []step{
				live, ev(100, "d1", "disconnected", 100),
				// the check is due at 130; a reconnect of 140 reaching us at 129 (its clock ahead) is judged by its time
				ev(129, "a1", "active", 140),
			},
			end:  400,
			want: []string{`live a0 from ""`, "disconnected d1 live=1m40s", "recovery a1 down=40s"},
		},
		{
			name:  "connected after the grace by event time, before the check: disconnect alerted then, active is the recovery",
			steps: []step{live, ev(100, "d1", "disconnected", 100), ev(129, "c1", "connected", 140), ev(145, "a1", "active", 145)},
			end:   400,
			want:  []string{`live a0 from ""`, "disconnected d1 live=1m40s", "recovery a1 down=45s"},
		},
		{
			name:  "duplicate disconnect (the same event again) is held once and alerted once",
			steps: []step{live, ev(100, "d1", "disconnected", 100), ev(101, "d1", "disconnected", 100), ev(140, "d1", "disconnected", 100)},
			end:   400,
			want:  []string{`live a0 from ""`, "disconnected d1 live=1m40s"},
		},
		{
			name:  "a second disconnect (another id) while one is held keeps the first",
			steps: []step{live, ev(100, "d1", "disconnected", 100), ev(110, "d2", "disconnected", 110)},
			end:   400,
			want:  []string{`live a0 from ""`, "disconnected d1 live=1m40s"},
		},
		{
			name:  "a second disconnect after an alerted one says nothing",
			steps: []step{live, ev(100, "d1", "disconnected", 100), ev(200, "c1", "connected", 200), ev(210, "d2", "disconnected", 210), ev(500, "a1", "active", 500)},
			want:  []string{`live a0 from ""`, "disconnected d1 live=1m40s", "recovery a1 down=6m40s"},
		},
		{
			name:  "a redelivered check alerts nothing more",
			steps: []step{live, ev(100, "d1", "disconnected", 100), checkOf(131, "d1"), checkOf(160, "d1"), checkOf(900, "d1")},
			want:  []string{`live a0 from ""`, "disconnected d1 live=1m40s"},
		},
		{
			name:  "a check after a brief drop alerts nothing, delivered again or not",
			steps: []step{live, ev(100, "d1", "disconnected", 100), ev(105, "a1", "active", 105), checkOf(131, "d1"), checkOf(132, "d1")},
			want:  []string{`live a0 from ""`},
			drops: 1,
		},
		{
			name:  "the check's publish fails: its redelivery sends it, once",
			steps: []step{live, failing(1, ev(100, "d1", "disconnected", 100))},
			end:   400,
			want:  []string{`live a0 from ""`, "disconnected d1 live=1m40s"},
		},
		{
			name: "the check's publish fails and the stream is back before the redelivery: the recovery carries the disconnect",
			steps: []step{
				live, failing(1, ev(100, "d1", "disconnected", 100)),
				// the check at 130 fails; its redelivery is due at 160
				ev(150, "a1", "active", 150),
			},
			end:  400,
			want: []string{`live a0 from ""`, "disconnected d1 live=1m40s", "recovery a1 down=50s"},
		},
		{
			name: "the check's publish fails and the stream goes idle before the redelivery: the idle carries the disconnect",
			steps: []step{
				live, failing(1, ev(100, "d1", "disconnected", 100)),
				ev(150, "i1", "idle", 150),
			},
			end:  400,
			want: []string{`live a0 from ""`, "disconnected d1 live=1m40s"},
		},
		{
			name:  "an early check (event clock ahead of ours) waits for the rest of the grace",
			steps: []step{live, ev(100, "d1", "disconnected", 110), checkOf(120, "d1")},
			end:   139,
			want:  []string{`live a0 from ""`},
		},
		{
			name:  "an early check is decided once the grace has passed by event time",
			steps: []step{live, ev(100, "d1", "disconnected", 110), checkOf(120, "d1")},
			end:   141,
			want:  []string{`live a0 from ""`, "disconnected d1 live=1m50s"},
		},
		{
			name:  "grace 0: every disconnect at once, today's behaviour",
			s:     grace0,
			steps: []step{live, ev(100, "d1", "disconnected", 100), ev(101, "a1", "active", 101), ev(102, "d2", "disconnected", 102)},
			end:   400,
			want:  []string{`live a0 from ""`, "disconnected d1 live=1m40s", "recovery a1 down=1s", "disconnected d2 live=1s"},
		},
		{
			name:  "idle while a disconnect is held: the stream did not come back, alerted at once; the next active goes live",
			steps: []step{live, ev(100, "d1", "disconnected", 100), ev(110, "i1", "idle", 110), ev(120, "a1", "active", 120)},
			end:   400,
			want:  []string{`live a0 from ""`, "disconnected d1 live=1m40s", `live a1 from "idle"`},
		},
		{
			name:  "idle after an alerted disconnect says nothing; the next active goes live, not a recovery",
			steps: []step{live, ev(100, "d1", "disconnected", 100), ev(200, "i1", "idle", 200), ev(3000, "a1", "active", 3000)},
			want:  []string{`live a0 from ""`, "disconnected d1 live=1m40s", `live a1 from "idle"`},
		},
		{
			name:  "a disconnect of a stream never live is held and alerted without a live time",
			steps: []step{ev(0, "c", "connected", 0), ev(100, "d1", "disconnected", 100)},
			end:   400,
			want:  []string{"disconnected d1 live=0s"},
		},
		{
			name:  "a brief drop before the first active: the active still goes live",
			steps: []step{ev(0, "c", "connected", 0), ev(10, "d1", "disconnected", 10), ev(12, "c1", "connected", 12), ev(20, "a1", "active", 20)},
			end:   400,
			want:  []string{`live a1 from "connected"`},
			drops: 1,
		},
		{
			name: "the recovery's publish fails: the retried record sends the same recovery",
			steps: []step{
				live, ev(100, "d1", "disconnected", 100),
				failing(1, ev(200, "a1", "active", 200)), ev(201, "a1", "active", 200),
			},
			want: []string{`live a0 from ""`, "disconnected d1 live=1m40s", "recovery a1 down=1m40s"},
		},
		{
			name:  "a retried went-live record (publish failed) is live again, from the same previous status",
			steps: []step{ev(0, "c", "connected", 0), failing(1, ev(1, "a0", "active", 1)), ev(2, "a0", "active", 1)},
			want:  []string{`live a0 from "connected"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s
			if s == (alertrules.Settings{}) {
				s = def
			}
			w := newWorld(t, s)
			for _, st := range tc.steps {
				w.advance(st.arrival)
				w.failNext += st.failPub
				if st.check {
					if err := w.check(st.id); err != nil {
						t.Fatalf("check %s: %v", st.id, err)
					}
					continue
				}
				_, err := w.arrive(st.arrival, st.id, st.status, st.occurred)
				if err != nil && st.failPub == 0 {
					t.Fatalf("event %s: %v", st.id, err)
				}
			}
			end := tc.end
			if end == 0 {
				end = 3600
			}
			w.advance(end)
			if got := strings.Join(w.sent, "\n"); got != strings.Join(tc.want, "\n") {
				t.Errorf("alerts:\n%s\nwant:\n%s", got, strings.Join(tc.want, "\n"))
			}
			if w.drops != tc.drops {
				t.Errorf("brief drops = %d, want %d", w.drops, tc.drops)
			}
		})
	}
}

// drop is a brief drop at second t: a disconnect, and the active 5 s later.
func drop(n, t int) []step {
	return []step{
		ev(t, fmt.Sprintf("d%d", n), "disconnected", t),
		ev(t+5, fmt.Sprintf("a%d", n), "active", t+5),
	}
}

func TestFlapping(t *testing.T) {
	def := alertrules.Defaults()
	two := def
	two.FlapThreshold, two.FlapWindow = 2, time.Minute
	off := def
	off.FlapThreshold = 0
	tests := []struct {
		name  string
		s     alertrules.Settings
		drops []int // seconds of each brief drop
		want  []string
	}{
		{name: "two drops: not yet unstable", drops: []int{100, 200}, want: nil},
		{name: "three drops in 10 min: one unstable alert", drops: []int{100, 200, 300},
			want: []string{"unstable a3 drops=3/10m0s"}},
		{name: "more drops within the window: still one", drops: []int{100, 200, 300, 400, 500, 600},
			want: []string{"unstable a3 drops=3/10m0s"}},
		{name: "it goes on: at most one per window", drops: []int{100, 200, 300, 400, 500, 600, 700, 800, 900, 1000},
			// (each drop 10 s later than listed) unstable at 315; the next
			// reconnection at least 10 min later is the 9th, at 915, with 6
			// drops in its window
			want: []string{"unstable a3 drops=3/10m0s", "unstable a9 drops=6/10m0s"}},
		{name: "three drops over more than the window: not unstable", drops: []int{0, 400, 800, 1200},
			want: nil},
		{name: "threshold 0: never unstable", s: off, drops: []int{100, 110, 120, 130, 140}, want: nil},
		{name: "other settings: 2 in a minute", s: two, drops: []int{100, 130, 200, 230},
			want: []string{"unstable a2 drops=2/1m0s", "unstable a4 drops=2/1m0s"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s
			if s == (alertrules.Settings{}) {
				s = def
			}
			w := newWorld(t, s)
			if _, err := w.arrive(0, "a0", "active", 0); err != nil {
				t.Fatal(err)
			}
			for i, d := range tc.drops {
				for _, st := range drop(i+1, d+10) {
					if _, err := w.arrive(st.arrival, st.id, st.status, st.occurred); err != nil {
						t.Fatal(err)
					}
				}
			}
			w.advance(5000)
			unstable := w.sent[1:]
			if strings.Join(unstable, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("alerts after live:\n%s\nwant:\n%s", strings.Join(unstable, "\n"), strings.Join(tc.want, "\n"))
			}
			if w.drops != len(tc.drops) {
				t.Errorf("brief drops = %d, want %d", w.drops, len(tc.drops))
			}
			if len(w.mem.Drops) > alertrules.MaxDrops {
				t.Errorf("memory holds %d drops", len(w.mem.Drops))
			}
		})
	}
}

// A long flapping encoder never grows the memory past MaxDrops, nor the
// drops kept past the window.
func TestDropsBounded(t *testing.T) {
	s := alertrules.Defaults()
	s.FlapWindow = 24 * time.Hour
	w := newWorld(t, s)
	if _, err := w.arrive(0, "a0", "active", 0); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		for _, st := range drop(i+1, 10+i*10) {
			if _, err := w.arrive(st.arrival, st.id, st.status, st.occurred); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := len(w.mem.Drops); n != alertrules.MaxDrops {
		t.Errorf("drops kept = %d, want %d", n, alertrules.MaxDrops)
	}
	if !slices.IsSortedFunc(w.mem.Drops, time.Time.Compare) {
		t.Errorf("drops not in order: %v", w.mem.Drops)
	}
}

// TestEveryOrdering delivers a disconnect (at 100 s) and a reconnection
// within or beyond the 30 s grace at every combination of arrival times
// around the check (due at 130 s), and compares with the rules written out
// by hand: an event is judged by its own time; what arrives after a newer
// event is stale; the check decides only what is still held.
func TestEveryOrdering(t *testing.T) {
	const dAt, grace, due = 100, 30, 130
	for _, rAt := range []int{105, 129, 130, 131, 200} {
		for _, dArr := range []int{100, 110, 129, 130, 131, 250} {
			for _, rArr := range []int{rAt, rAt + 1, 125, 130, 135, 240, 260} {
				if rArr < rAt {
					continue // nothing arrives before it happens
				}
				name := fmt.Sprintf("reconnect@%d/disconnect arrives %d/reconnect arrives %d", rAt, dArr, rArr)
				t.Run(name, func(t *testing.T) {
					w := newWorld(t, alertrules.Defaults())
					if _, err := w.arrive(0, "a0", "active", 0); err != nil {
						t.Fatal(err)
					}
					type e struct {
						arr, at  int
						id, stat string
					}
					evs := []e{{dArr, dAt, "d1", "disconnected"}, {rArr, rAt, "a1", "active"}}
					if rArr < dArr {
						evs[0], evs[1] = evs[1], evs[0]
					}
					for _, x := range evs {
						if _, err := w.arrive(x.arr, x.id, x.stat, x.at); err != nil {
							t.Fatal(err)
						}
					}
					w.advance(3600)

					want := []string{`live a0 from ""`}
					drops := 0
					down := fmt.Sprintf("recovery a1 down=%s", time.Duration(rAt-dAt)*time.Second)
					switch {
					case rArr < dArr:
						// the disconnect is older than the state: stale
					case dArr-dAt >= grace:
						want = append(want, "disconnected d1 live=1m40s", down)
					case rArr <= due && rAt-dAt <= grace:
						drops = 1
					default:
						want = append(want, "disconnected d1 live=1m40s", down)
					}
					if got := strings.Join(w.sent, "\n"); got != strings.Join(want, "\n") {
						t.Errorf("alerts:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
					}
					if w.drops != drops {
						t.Errorf("brief drops = %d, want %d", w.drops, drops)
					}
				})
			}
		}
	}
}

// Two deliveries racing: the rules' memory has seen a newer event than the
// one being applied (the state write of the older one passed first). The
// older one decides nothing and leaves the memory alone.
func TestStaleForTheRules(t *testing.T) {
	s := alertrules.Defaults()
	m := alertrules.Apply(alertrules.Memory{}, alertrules.Transition{EventID: "a2", OccurredAt: at(200), Status: "active"}, s, at(200)).Memory
	d := alertrules.Apply(m, alertrules.Transition{EventID: "d1", OccurredAt: at(100), Previous: "active", Status: "disconnected"}, s, at(201))
	if !d.Stale || d.Changed || len(d.Alerts) != 0 || d.Hold != nil {
		t.Errorf("older transition: %+v", d)
	}
	if d.Memory.Last.EventID != "a2" {
		t.Errorf("memory's last event = %s, want a2", d.Memory.Last.EventID)
	}
}

// A replayed disconnect asks for its check again with what is left of the
// grace (never negative), and changes nothing.
func TestReplayHoldsAgain(t *testing.T) {
	s := alertrules.Defaults()
	tr := alertrules.Transition{EventID: "d1", OccurredAt: at(100), Previous: "active", Status: "disconnected"}
	first := alertrules.Apply(alertrules.Memory{LiveSince: at(0)}, tr, s, at(101))
	if first.Hold == nil || first.Hold.Delay != 29*time.Second {
		t.Fatalf("first hold = %+v, want 29s", first.Hold)
	}
	for _, tc := range []struct {
		now  int
		want time.Duration
	}{{110, 20 * time.Second}, {130, 0}, {500, 0}} {
		d := alertrules.Apply(first.Memory, tr, s, at(tc.now))
		if !d.Replay || d.Changed || d.Hold == nil || d.Hold.Delay != tc.want || d.Hold.EventID != "d1" {
			t.Errorf("replay at %d: %+v, hold %+v; want delay %s", tc.now, d, d.Hold, tc.want)
		}
	}
}

func TestDecideCheck(t *testing.T) {
	s := alertrules.Defaults()
	held := alertrules.Memory{LiveSince: at(0), Held: &alertrules.Held{EventID: "d1", OccurredAt: at(100), PreviousStatus: "active"}}
	d := alertrules.DecideCheck(held, "d1", s, at(130))
	if d.Reason != alertrules.CheckAlerted || d.Alert == nil || !d.Changed {
		t.Fatalf("check of a held disconnect: %+v", d)
	}
	if a := d.Alert; a.Kind != alertrules.KindDisconnected || a.LiveFor != 100*time.Second || a.Grace != 30*time.Second || a.PreviousStatus != "active" {
		t.Errorf("alert = %+v", a)
	}
	if d.Memory.Held != nil || d.Memory.Down == nil || d.Memory.Down.Published || !d.Memory.LiveSince.IsZero() {
		t.Errorf("memory after the decision = %+v", d.Memory)
	}
	if held.Held == nil {
		t.Error("DecideCheck changed the memory it was given")
	}
	again := alertrules.DecideCheck(d.Memory, "d1", s, at(160))
	if again.Reason != alertrules.CheckResent || again.Alert == nil || *again.Alert != *d.Alert || again.Changed {
		t.Errorf("unconfirmed, delivered again: %+v", again)
	}
	confirmed, changed := alertrules.Confirm(d.Memory, "d1")
	if !changed || !confirmed.Down.Published {
		t.Fatalf("Confirm: %+v, %v", confirmed, changed)
	}
	if _, changed := alertrules.Confirm(confirmed, "d1"); changed {
		t.Error("Confirm twice changed the memory twice")
	}
	if _, changed := alertrules.Confirm(confirmed, "other"); changed {
		t.Error("Confirm of another disconnect changed the memory")
	}
	if d := alertrules.DecideCheck(confirmed, "d1", s, at(190)); d.Reason != alertrules.CheckAlreadyAlerted || d.Alert != nil || d.Changed {
		t.Errorf("confirmed, delivered again: %+v", d)
	}
	if d := alertrules.DecideCheck(held, "d0", s, at(130)); d.Reason != alertrules.CheckNotHeld || d.Alert != nil || d.Changed {
		t.Errorf("check of an older disconnect while a newer one is held: %+v", d)
	}
	if d := alertrules.DecideCheck(alertrules.Memory{}, "d1", s, at(130)); d.Reason != alertrules.CheckNotHeld || d.Alert != nil {
		t.Errorf("check of a stream with no memory: %+v", d)
	}
	if d := alertrules.DecideCheck(held, "d1", s, at(120)); d.Reason != alertrules.CheckEarly || d.Requeue != 10*time.Second || d.Changed {
		t.Errorf("early check: %+v", d)
	}
	if d := alertrules.DecideCheck(held, "d1", s, at(129).Add(time.Second/2)); d.Reason != alertrules.CheckAlerted {
		t.Errorf("check within a second of the grace (SQS delays by whole seconds): %+v", d)
	}
}

// The memory is stored as JSON in the stream's state item: it reads back
// the same, and a zero memory is small.
func TestMemoryJSON(t *testing.T) {
	w := newWorld(t, alertrules.Defaults())
	for _, st := range append([]step{ev(0, "a0", "active", 0)}, append(drop(1, 100), drop(2, 200)...)...) {
		if _, err := w.arrive(st.arrival, st.id, st.status, st.occurred); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.arrive(300, "d3", "disconnected", 300); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(w.mem)
	if err != nil {
		t.Fatal(err)
	}
	var back alertrules.Memory
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalise(back), normalise(w.mem)) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", back, w.mem)
	}
	if b, _ := json.Marshal(alertrules.Memory{}); string(b) != "{}" {
		t.Errorf("zero memory = %s", b)
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

// Only a transition that decides something or changes what the rules
// remember is to be written: the rest cost no request.
func TestChangedOnlyWhenItMatters(t *testing.T) {
	s := alertrules.Defaults()
	tr := func(id, prev, status string, sec int) alertrules.Transition {
		return alertrules.Transition{EventID: id, OccurredAt: at(sec), Previous: prev, Status: status}
	}
	steps := []struct {
		tr      alertrules.Transition
		changed bool
	}{
		{tr("c", "", "connected", 0), false},                    // nobody told anything
		{tr("a0", "connected", "active", 1), true},              // went live
		{tr("a1", "active", "active", 2), false},                // active while active
		{tr("d1", "active", "disconnected", 100), true},         // held
		{tr("c1", "disconnected", "connected", 200), true},      // after the grace: alerted now
		{tr("c2", "connected", "connected", 201), false},        // still down, nothing new
		{tr("a2", "connected", "active", 210), true},            // recovery
		{tr("i", "active", "idle", 300), true},                  // the session ends
		{tr("i2", "idle", "idle", 301), false},                  // nothing more to forget
		{tr("p", "idle", "preparing", 302), false},              // not a status the rules know
		{tr("d9", "preparing", "disconnected", 303), true},      // held again
		{tr("d9b", "disconnected", "disconnected", 304), false}, // a second disconnect while one is held
	}
	var m alertrules.Memory
	for _, st := range steps {
		d := alertrules.Apply(m, st.tr, s, st.tr.OccurredAt)
		if d.Changed != st.changed {
			t.Errorf("%s (%s → %s): changed %v, want %v", st.tr.EventID, st.tr.Previous, st.tr.Status, d.Changed, st.changed)
		}
		m = d.Memory
	}
}

// ApplyAll decides a transition the memory never heard of (its own decision
// could not be stored) before the one at hand, and remembers both as the
// latter's, so a retry of it replays them all.
func TestApplyAll(t *testing.T) {
	s := alertrules.Defaults()
	live := alertrules.Apply(alertrules.Memory{}, alertrules.Transition{EventID: "a0", OccurredAt: at(0), Status: "active"}, s, at(0)).Memory
	d1 := alertrules.Transition{EventID: "d1", OccurredAt: at(100), Previous: "active", Status: "disconnected"}
	tests := []struct {
		name   string
		missed []alertrules.Transition
		tr     alertrules.Transition
		now    int
		want   []alertrules.Kind
		brief  bool
		held   string
	}{
		{name: "a missed disconnect and the reconnection: a brief drop", missed: []alertrules.Transition{d1},
			tr: alertrules.Transition{EventID: "a1", OccurredAt: at(101), Previous: "disconnected", Status: "active"}, now: 102, brief: true},
		{name: "a missed disconnect past its grace, then idle: the disconnect is alerted", missed: []alertrules.Transition{d1},
			tr: alertrules.Transition{EventID: "i1", OccurredAt: at(160), Previous: "disconnected", Status: "idle"}, now: 200,
			want: []alertrules.Kind{alertrules.KindDisconnected}},
		{name: "a missed disconnect within its grace, then the connected: a brief drop", missed: []alertrules.Transition{d1},
			tr: alertrules.Transition{EventID: "c1", OccurredAt: at(110), Previous: "disconnected", Status: "connected"}, now: 111, brief: true},
		{name: "a missed disconnect, then a second disconnect: the first is held", missed: []alertrules.Transition{d1},
			tr: alertrules.Transition{EventID: "d2", OccurredAt: at(105), Previous: "disconnected", Status: "disconnected"}, now: 106, held: "d1"},
		{name: "the memory already holds the missed one: only tr", missed: []alertrules.Transition{{EventID: "a0", OccurredAt: at(0), Status: "active"}},
			tr: alertrules.Transition{EventID: "a2", OccurredAt: at(5), Previous: "active", Status: "active"}, now: 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := alertrules.ApplyAll(live, tc.missed, tc.tr, s, at(tc.now))
			var kinds []alertrules.Kind
			for _, a := range d.Alerts {
				kinds = append(kinds, a.Kind)
			}
			if !slices.Equal(kinds, tc.want) || d.BriefDrop != tc.brief {
				t.Errorf("alerts %v brief %v; want %v brief %v", kinds, d.BriefDrop, tc.want, tc.brief)
			}
			if held := d.Memory.Held; (held == nil) != (tc.held == "") || held != nil && held.EventID != tc.held || (tc.held != "") != (d.Hold != nil) {
				t.Errorf("held %+v, hold %+v; want %q", held, d.Hold, tc.held)
			}
			if d.Changed {
				if d.Memory.Last == nil || d.Memory.Last.EventID != tc.tr.EventID || len(d.Memory.Last.Alerts) != len(d.Alerts) {
					t.Errorf("last = %+v, want %s with its %d alerts", d.Memory.Last, tc.tr.EventID, len(d.Alerts))
				}
				again := alertrules.ApplyAll(d.Memory, tc.missed, tc.tr, s, at(tc.now+1))
				if !again.Replay || len(again.Alerts) != len(d.Alerts) {
					t.Errorf("a retry: %+v, want the same alerts replayed", again)
				}
			}
		})
	}
}
