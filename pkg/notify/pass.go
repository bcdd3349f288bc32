package notify

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/changefeed"
	"github.com/streamhook/fastpix-receiver/pkg/checkqueue"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// Effect is one thing a stream's events decided that must leave: an
// alert to a topic, a change-feed message, or a held disconnect's check.
// Effects are kept in the stream's state until sent, in the order decided.
type Effect struct {
	Seq    int64              `json:"seq"`
	Topic  string             `json:"topic,omitempty"`
	Alert  *alerts.Alert      `json:"alert,omitempty"`
	Change *changefeed.Change `json:"change,omitempty"`
	Check  *checkqueue.Check  `json:"check,omitempty"`
	// Due is when the check is due.
	Due time.Time `json:"due,omitzero"`
}

// late is an event that reached the notifier after its stream's log had
// moved past it, with the stream's transition after it (nil: none).
type late struct {
	rec  eventstore.Record
	next *eventstore.Record
}

// pass is one bringing up to date of a stream's state: the events applied,
// in log order, and what they decided.
type pass struct {
	n       *Notifier
	st      *streamstate.State
	mem     alertrules.Memory
	now     time.Time
	effects []Effect
	results []EventResult
	// fresh is the log after the applied position; next, for an event
	// that reached us after its log had moved past it, the stream's
	// transition after it.
	fresh []eventstore.Record
	next  map[string]*eventstore.Record
}

// base is what an alert decided without an event of its own (a held
// disconnect settled) says of the stream: what its state knows.
func (p *pass) base() alerts.Alert {
	return alerts.Alert{StreamID: p.st.StreamID, WorkspaceID: p.st.WorkspaceID, WorkspaceName: p.st.WorkspaceName, Test: p.st.Test}
}

// evaluate applies fresh (the log after st.Applied, in order) and the late
// events to st, and returns what they decide. check is the held disconnect
// whose check this pass runs for ("" for a stream record's pass). It is
// pure: st and the returned effects are all it changes.
func (n *Notifier) evaluate(st *streamstate.State, fresh []eventstore.Record, lates []late, check *checkqueue.Check, now time.Time) ([]Effect, []EventResult, CheckDecision) {
	p := &pass{n: n, st: st, mem: st.Memory(), now: now, fresh: fresh, next: map[string]*eventstore.Record{}}
	for _, l := range lates {
		p.next[l.rec.EventID] = l.next
	}
	heldBefore := ""
	if p.mem.Held != nil {
		heldBefore = p.mem.Held.EventID
	}
	for _, r := range inArrivalOrder(fresh, lates) {
		p.settle(parseTime(r.ReceivedAt))
		p.apply(r)
	}
	p.settle(now)
	if due, held := alertrules.Pending(p.mem, n.Rules); held {
		id := p.mem.Held.EventID
		if id != heldBefore || (check != nil && check.EventID == id) {
			b := p.base()
			c := checkqueue.Check{StreamID: st.StreamID, EventID: id, OccurredAt: p.mem.Held.OccurredAt,
				WorkspaceID: b.WorkspaceID, WorkspaceName: b.WorkspaceName, Test: b.Test}
			p.effects = append(p.effects, Effect{Check: &c, Due: due})
		}
	}
	if st.Alerting != nil || !emptyMemory(p.mem) {
		st.SetMemory(p.mem)
	}
	return p.effects, p.results, p.decided(check)
}

// CheckDecision says what a held disconnect's check found.
type CheckDecision string

// The decisions of a check.
const (
	// CheckAlerted: the stream did not come back within the grace: the
	// disconnect was alerted (by this check, or by the pass it ran).
	CheckAlerted CheckDecision = "alerted"
	// CheckEarly: the grace has not passed yet (SQS delays by whole
	// seconds, or the event's clock is ahead): checked again later.
	CheckEarly CheckDecision = "early"
	// CheckNotHeld: the disconnect is no longer held: the stream came back
	// (a brief drop), or an event after it decided it.
	CheckNotHeld CheckDecision = "not held"
)

// decided is what the pass found of check's disconnect ("" without one).
func (p *pass) decided(check *checkqueue.Check) CheckDecision {
	if check == nil {
		return ""
	}
	for _, e := range p.effects {
		if e.Alert != nil && e.Alert.Kind == alertrules.KindDisconnected && e.Alert.EventID == check.EventID {
			return CheckAlerted
		}
	}
	if p.mem.Held != nil && p.mem.Held.EventID == check.EventID {
		return CheckEarly
	}
	return CheckNotHeld
}

func emptyMemory(m alertrules.Memory) bool {
	return m.LiveSince.IsZero() && m.Held == nil && m.Down == nil && len(m.Drops) == 0 && m.UnstableAt.IsZero()
}

// settle decides the held disconnect that was due before at.
func (p *pass) settle(at time.Time) {
	d := alertrules.Settle(p.mem, p.n.Rules, at)
	p.mem = d.Memory
	p.alert(p.base(), d.Alerts, nil)
}

// inArrivalOrder is fresh (the log after the applied position, in log
// order) and the events that reached us after their log had moved past
// them, in the order they reached us. Each status (the stream's, each
// target's, the stream's details) moves only forward (State.Apply), so an
// event that reached us after a newer one of the same status is late, and
// every other one is applied in log order: the result depends on what
// FastPix sent and when we received it, not on when the notifier runs.
func inArrivalOrder(fresh []eventstore.Record, lates []late) []eventstore.Record {
	out := make([]eventstore.Record, 0, len(fresh)+len(lates))
	out = append(out, fresh...)
	for _, l := range lates {
		out = append(out, l.rec)
	}
	slices.SortStableFunc(out, func(a, b eventstore.Record) int {
		if c := strings.Compare(a.ReceivedAt, b.ReceivedAt); c != 0 {
			return c
		}
		return strings.Compare(a.OrderKey, b.OrderKey)
	})
	return out
}

// nextOf is the stream's transition after r that reached us no later than
// r: in this pass's log, or as read for an event that came late.
func (p *pass) nextOf(r eventstore.Record) *eventstore.Record {
	if n, ok := p.next[r.EventID]; ok {
		return n
	}
	for i := range p.fresh {
		if p.fresh[i].EventID == r.EventID {
			return nextTransition(p.fresh[i+1:], r)
		}
	}
	return nil
}

// nextTransition is the first of after (the log after r, in order) that is
// a stream status transition and reached us no later than r.
func nextTransition(after []eventstore.Record, r eventstore.Record) *eventstore.Record {
	for i := range after {
		if e := describe(after[i]); e.changesState && !e.change.Target && e.change.Transition && after[i].ReceivedAt <= r.ReceivedAt {
			return &after[i]
		}
	}
	return nil
}

// orderTime is the time r is ordered by in its log: its position's time
// (createdAt, or the receive time when createdAt was missing or too far
// ahead), and whether that is not createdAt as sent.
func orderTime(r eventstore.Record) (string, bool) {
	if t, _, ok := strings.Cut(r.OrderKey, "/"); ok && t != "" {
		return t, t != r.OccurredAt
	}
	return r.OccurredAt, false
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// apply applies one event of the log, in order.
func (p *pass) apply(r eventstore.Record) {
	e := describe(r)
	res := EventResult{EventID: r.EventID, Type: r.Type, StreamID: e.streamID, SimulcastID: e.simulcastID,
		Status: e.status(r.Type), Info: e.changesState && !e.change.Transition}
	res.OccurredAt, res.ClockSkewed = orderTime(r)
	defer func() {
		p.st.MarkApplied(r.OrderKey, r.EventID, r.ReceivedAt)
		p.results = append(p.results, res)
	}()
	base := alerts.FromRecord(r, res.Status)
	base.StreamID, base.SimulcastID, base.OccurredAt = e.streamID, e.simulcastID, res.OccurredAt
	topic, routed := p.n.Routes.Topic(r.Type)
	switch {
	case !e.changesState:
		res.Outcome = Recorded
		return
	case e.change.Target && e.simulcastID == "":
		// A target event that names no target: nothing can tell whether it
		// is stale.
		res.Outcome = Untracked
		return
	case e.change.Target && !e.change.Transition:
		// A target keeps no detail: nothing to change.
		res.Outcome = Recorded
		return
	}
	u := streamstate.Update{
		StreamID: e.streamID, Info: !e.change.Transition, Status: e.change.Status, Rank: e.change.Rank,
		Delete: e.change.Target && e.change.IsDeletion(), EventID: r.EventID, EventType: r.Type, OccurredAt: res.OccurredAt,
	}
	if e.change.Target {
		u.SimulcastID = e.simulcastID
	} else {
		u.WorkspaceID, u.WorkspaceName, u.Test = r.WorkspaceID, r.WorkspaceName, r.Test
	}
	tr, err := p.st.Apply(u)
	switch {
	case err == nil && tr.Repeated:
		// Applied already (by a pass that remembers it no more): nothing
		// again.
		res.Outcome = Recorded
		return
	case errors.Is(err, streamstate.ErrTooManyTargets):
		res.Outcome = Untracked
		return
	case errors.Is(err, streamstate.ErrUnprocessable):
		res.Outcome = Unprocessable
		return
	case err != nil: // stale: it reached us after a newer event of its status
		res.Outcome, res.Late = Stale, true
		if routed {
			res.Outcome = Suppressed
		}
		if !e.change.Target && e.change.Transition {
			p.late(r, e, &res)
		}
		return
	}
	res.StateUpdated, res.Previous = !u.Info, tr.Previous
	res.Outcome = Recorded
	if u.Info {
		return
	}
	if tr.Previous != tr.Current || e.change.Target {
		// The change goes before the alerts the rules decide below, and
		// carries the stream's mark once they have decided.
		at := len(p.effects)
		defer func() { p.change(r, e, tr, at) }()
	}
	rt := alertrules.Transition{
		EventID: r.EventID, OccurredAt: parseTime(res.OccurredAt), ReceivedAt: parseTime(r.ReceivedAt),
		Previous: tr.Previous, Status: tr.Current,
	}
	if e.change.Target {
		p.alert(base, alertrules.Target(rt), &res)
	} else {
		d := alertrules.Apply(p.mem, rt, p.n.Rules)
		p.mem = d.Memory
		switch {
		case d.BriefDrop:
			res.Outcome = BriefDrop
		case p.mem.Held != nil && p.mem.Held.EventID == r.EventID:
			res.Outcome = Held
		}
		p.alert(base, d.Alerts, &res)
	}
	if routed && !decidedByRules(r.Type) {
		// An event type the operator routed that no rule decides (see
		// alerts.Routes): sent as it is, whenever it applies.
		p.alertAs(base, topic, &res)
	}
}

// late decides a stream transition that reached us after a newer one: no
// alert for it, but a late brief drop still counts towards the stream
// being unstable.
func (p *pass) late(r eventstore.Record, e event, res *EventResult) {
	next := p.nextOf(r)
	if next == nil {
		return
	}
	ne := describe(*next)
	nt, _ := orderTime(*next)
	d := alertrules.Late(p.mem,
		alertrules.Transition{EventID: r.EventID, OccurredAt: parseTime(res.OccurredAt), ReceivedAt: parseTime(r.ReceivedAt), Status: e.change.Status},
		&alertrules.Transition{EventID: next.EventID, OccurredAt: parseTime(nt), ReceivedAt: parseTime(next.ReceivedAt), Status: ne.change.Status},
		p.n.Rules)
	p.mem = d.Memory
	if d.BriefDrop {
		res.Outcome = BriefDrop
	}
	p.alert(alerts.FromRecord(*next, ne.status(next.Type)), d.Alerts, res)
}

// change records a status change for the change feed, as the effect at
// index at.
func (p *pass) change(r eventstore.Record, e event, tr streamstate.Transition, at int) {
	if p.n.Changes == nil {
		return
	}
	occurred, _ := orderTime(r)
	c := changefeed.Change{
		StreamID: e.streamID, WorkspaceID: r.WorkspaceID, WorkspaceName: r.WorkspaceName,
		PreviousStatus: tr.Previous, Status: tr.Current, EventID: r.EventID, EventType: r.Type,
		OccurredAt: occurred, Test: r.Test,
	}
	if e.change.Target {
		c.SimulcastTargetID = e.simulcastID
	} else {
		var until time.Time
		c.Mark, until = p.mem.Mark()
		if !until.IsZero() {
			c.HeldUntil = eventstore.FormatTime(until)
		}
	}
	p.effects = slices.Insert(p.effects, at, Effect{Change: &c})
}

// alert turns the rules' alerts into effects, about base's stream.
func (p *pass) alert(base alerts.Alert, as []alertrules.Alert, res *EventResult) {
	for _, a := range as {
		topic, ok := p.n.Routes.TopicOf(a.Kind, base.Type)
		if !ok {
			continue
		}
		alert := alerts.FromRule(base, a)
		if a.Kind == alertrules.KindLive || a.Kind == alertrules.KindRecovery {
			alert.SimulcastTargets = targetsOf(p.st.SimulcastTargets)
		}
		if res != nil {
			res.Alerts = append(res.Alerts, a.Kind)
		}
		p.send(topic, alert, res)
	}
}

// alertAs sends base as it is (an event routed by configuration alone).
func (p *pass) alertAs(base alerts.Alert, topic string, res *EventResult) {
	p.send(topic, base, res)
}

func (p *pass) send(topic string, a alerts.Alert, res *EventResult) {
	if a.Test && p.n.SkipTestEvents {
		if res != nil {
			res.Outcome = TestSkipped
		}
		return
	}
	p.effects = append(p.effects, Effect{Topic: topic, Alert: &a})
	if res != nil {
		res.Outcome = Published
		res.Topics = append(res.Topics, topic)
	}
}

// decidedByRules: event types whose alerts pkg/alertrules decides, so the
// event itself is never published as it is.
func decidedByRules(eventType string) bool {
	switch eventType {
	case fastpix.TypeLiveStreamActive, fastpix.TypeLiveStreamDisconnected,
		fastpix.TypeSimulcastBroadcasting, fastpix.TypeSimulcastTargetBroadcasting:
		return true
	}
	return false
}

// targetsOf lists a stream's simulcast targets by id, for a live alert.
func targetsOf(m map[string]streamstate.Target) []alerts.Target {
	ts := make([]alerts.Target, 0, len(m))
	for id, t := range m {
		ts = append(ts, alerts.Target{ID: id, Status: t.Status})
	}
	slices.SortFunc(ts, func(a, b alerts.Target) int { return strings.Compare(a.ID, b.ID) })
	return ts
}
