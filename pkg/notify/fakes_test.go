package notify_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/changefeed"
	"github.com/streamhook/fastpix-receiver/pkg/checkqueue"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// fakeLog is the events table as streams' logs, in memory, with the
// table's semantics: one record per (stream, event id), read in log order.
type fakeLog struct {
	mu   sync.Mutex
	logs map[string][]eventstore.Record
	// reads counts ReadLog calls, returned the records they returned.
	reads, returned int
}

// put stores r unless its id is stored already (a duplicate delivery), and
// says whether it stored it: only a stored event rings the bell.
func (l *fakeLog) put(r eventstore.Record) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.logs == nil {
		l.logs = map[string][]eventstore.Record{}
	}
	k := r.LogKey()
	for _, e := range l.logs[k] {
		if e.EventID == r.EventID {
			return false
		}
	}
	l.logs[k] = append(l.logs[k], r)
	slices.SortFunc(l.logs[k], func(a, b eventstore.Record) int { return strings.Compare(a.OrderKey, b.OrderKey) })
	return true
}

func (l *fakeLog) ReadLog(_ context.Context, key, after, receivedAfter string) ([]eventstore.Record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reads++
	var out []eventstore.Record
	defer func() { l.returned += len(out) }()
	for _, r := range l.logs[key] {
		if r.OrderKey > after && r.ReceivedAt > receivedAfter {
			out = append(out, r)
		}
	}
	return out, nil
}

func (l *fakeLog) GetEvent(_ context.Context, key, id string) (eventstore.Record, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.logs[key] {
		if r.EventID == id {
			return r, nil
		}
	}
	return eventstore.Record{}, eventstore.ErrNotFound
}

// fakeStates is the state table in memory: whole items, written only at
// the revision they were read at.
type fakeStates struct {
	mu     sync.Mutex
	items  map[string]streamstate.State
	saves  int
	failAt func(st *streamstate.State) error
}

func copyState(st streamstate.State) streamstate.State {
	c := st
	c.SimulcastTargets = maps.Clone(st.SimulcastTargets)
	c.Recent = slices.Clone(st.Recent)
	if st.Alerting != nil {
		m := st.Alerting.Clone()
		c.Alerting = &m
	}
	return c
}

func (f *fakeStates) Load(_ context.Context, id string) (streamstate.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.items[id]
	if !ok {
		return streamstate.State{StreamID: id, SimulcastTargets: map[string]streamstate.Target{}}, nil
	}
	return copyState(st), nil
}

func (f *fakeStates) Save(_ context.Context, st *streamstate.State) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failAt != nil {
		if err := f.failAt(st); err != nil {
			return err
		}
	}
	if f.items == nil {
		f.items = map[string]streamstate.State{}
	}
	if f.items[st.StreamID].Rev != st.Rev {
		return fmt.Errorf("%w: fake", streamstate.ErrConflict)
	}
	st.Rev++
	f.items[st.StreamID] = copyState(*st)
	f.saves++
	return nil
}

// sink records what leaves, in order per stream: alerts (rendered short),
// change-feed messages and checks.
type sink struct {
	mu      sync.Mutex
	alerts  map[string][]string
	changes map[string][]string
	checks  []queued
	failPub int // publishes to fail from now on
}

func (s *sink) Publish(_ context.Context, topic string, m alerts.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failPub > 0 {
		s.failPub--
		return fmt.Errorf("SNS is down")
	}
	if s.alerts == nil {
		s.alerts = map[string][]string{}
	}
	stream := m.Attributes[alerts.AttrStreamID]
	s.alerts[stream] = append(s.alerts[stream], topic[strings.LastIndexByte(topic, ':')+1:]+" "+m.SMS)
	return nil
}

func (s *sink) PublishChange(c changefeed.Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changes == nil {
		s.changes = map[string][]string{}
	}
	key := c.StreamID
	line := fmt.Sprintf("%s %s %s->%s", c.SimulcastTargetID, c.EventID, c.PreviousStatus, c.Status)
	if c.Mark != "" {
		line += " [" + c.Mark + " " + c.HeldUntil + "]"
	}
	s.changes[key] = append(s.changes[key], line)
}

type feed struct{ s *sink }

func (f feed) Publish(_ context.Context, c changefeed.Change) error {
	f.s.mu.Lock()
	fail := f.s.failPub > 0
	if fail {
		f.s.failPub--
	}
	f.s.mu.Unlock()
	if fail {
		return fmt.Errorf("SNS is down")
	}
	f.s.PublishChange(c)
	return nil
}

// queued is a check in the fake delay queue, and when it is delivered.
type queued struct {
	c  checkqueue.Check
	at time.Time
}

type queue struct {
	s   *sink
	now func() time.Time
}

// Enqueue delivers the check a second after the delay (SQS delays by
// whole seconds, rounded up).
func (q queue) Enqueue(_ context.Context, c checkqueue.Check, delay time.Duration) error {
	q.s.mu.Lock()
	defer q.s.mu.Unlock()
	q.s.checks = append(q.s.checks, queued{c: c, at: q.now().Add(delay + time.Second)})
	return nil
}

var routes = alerts.Routes{
	"video.live_stream.active":                        "arn:aws:sns:us-east-1:1:Live",
	"video.live_stream.disconnected":                  "arn:aws:sns:us-east-1:1:Down",
	"video.live_stream.simulcast_target.broadcasting": "arn:aws:sns:us-east-1:1:Simulcast",
}

var t0 = time.Date(2024, 4, 2, 11, 0, 0, 0, time.UTC)

// clock is a test clock safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

type world struct {
	log    *fakeLog
	states *fakeStates
	sink   *sink
	clock  *clock
	n      *notify.Notifier
}

func newWorld(s alertrules.Settings) *world {
	w := &world{log: &fakeLog{}, states: &fakeStates{}, sink: &sink{}, clock: &clock{now: t0}}
	w.n = &notify.Notifier{
		Log: w.log, State: w.states, Publisher: w.sink, Routes: routes, Changes: feed{w.sink},
		Rules: s, Queue: queue{s: w.sink, now: w.clock.Now}, Now: w.clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	return w
}

// event is a stored event of stream (and target, for a simulcast event)
// of type action (the part after video.live_stream.), that occurred at
// occurred and reached us at received.
func event(stream, target, id, action string, occurred, received time.Time) eventstore.Record {
	typ := "video.live_stream." + action
	payloadStatus := action
	if target != "" {
		typ = "video.live_stream.simulcast_target." + action
	}
	change, _ := fastpix.ChangeOf(typ, payloadStatus)
	at := eventstore.FormatTime(occurred)
	return eventstore.Record{
		EventID: id, Type: typ, StreamID: stream, SimulcastID: target, WorkspaceID: "ws-1", WorkspaceName: "Dev",
		OccurredAt: at, ReceivedAt: eventstore.FormatTime(received),
		OrderKey: fmt.Sprintf("%s/%02d/%s", at, max(0, min(change.Rank, 99)), id),
		Payload:  fmt.Sprintf(`{"id":%q,"type":%q,"data":{"id":%q,"status":%q}}`, id, typ, stream, payloadStatus),
	}
}
