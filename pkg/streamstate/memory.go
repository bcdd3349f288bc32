package streamstate

import (
	"context"
	"errors"
	"fmt"
	"maps"
)

// Apply applies u to st in memory by the very rules Store.Apply writes as
// DynamoDB conditions: a dry run (an operator's replay) and the store agree
// on what is stale. st.StreamID must be u.StreamID.
func (st *State) Apply(u Update) (Transition, error) {
	if err := u.check(); err != nil {
		return Transition{}, err
	}
	if st.SimulcastTargets == nil {
		st.SimulcastTargets = map[string]Target{}
	}
	switch {
	case u.SimulcastID == "" && u.Info:
		if !orderedBefore(st.DetailOccurredAt, st.DetailEventID, u.OccurredAt, u.EventID) {
			return Transition{}, fmt.Errorf("%w: stream %s, event %s", ErrStale, u.StreamID, u.EventID)
		}
		st.DetailEventID, st.DetailEventType, st.DetailOccurredAt = u.EventID, u.EventType, u.OccurredAt
		return Transition{}, nil
	case u.SimulcastID == "":
		if sameEvent(st.StatusOrder, st.LastOccurredAt, st.LastEventID, u) {
			return Transition{
				Previous: st.PreviousStatus, Current: st.Status, Repeated: true, Rules: st.rules, Targets: maps.Clone(st.SimulcastTargets),
				ReplacedEventID: st.previousEventID, ReplacedAt: st.previousAt,
			}, nil
		}
		if !statusBefore(st.StatusOrder, st.LastOccurredAt, st.LastEventID, u) {
			return Transition{}, fmt.Errorf("%w: stream %s, event %s", ErrStale, u.StreamID, u.EventID)
		}
		tr := Transition{
			Previous: st.Status, Current: u.Status, Rules: st.rules, Targets: maps.Clone(st.SimulcastTargets),
			ReplacedEventID: st.LastEventID, ReplacedAt: st.LastOccurredAt,
		}
		if u.WorkspaceID != "" {
			st.WorkspaceID = u.WorkspaceID
		}
		st.PreviousStatus, st.previousEventID, st.previousAt = st.Status, st.LastEventID, st.LastOccurredAt
		st.Status, st.LastEventID, st.LastEventType, st.LastOccurredAt, st.StatusOrder = u.Status, u.EventID, u.EventType, u.OccurredAt, u.order()
		return tr, nil
	case u.Info:
		return Transition{}, nil
	}
	t, tracked := st.SimulcastTargets[u.SimulcastID]
	switch {
	case tracked && !statusBefore(t.StatusOrder, t.LastOccurredAt, t.LastEventID, u):
		return Transition{}, fmt.Errorf("%w: simulcast target %s of stream %s, event %s", ErrStale, u.SimulcastID, u.StreamID, u.EventID)
	case u.Delete:
		delete(st.SimulcastTargets, u.SimulcastID)
		return Transition{Previous: t.Status, Current: u.Status, Repeated: tracked && t.LastEventID == u.EventID}, nil
	case !tracked && len(st.SimulcastTargets) >= MaxSimulcastTargets:
		return Transition{}, fmt.Errorf("%w: %w: stream %s, target %s", ErrTooManyTargets, ErrUnprocessable, u.StreamID, u.SimulcastID)
	}
	st.SimulcastTargets[u.SimulcastID] = Target{Status: u.Status, LastEventID: u.EventID, LastEventType: u.EventType, LastOccurredAt: u.OccurredAt, StatusOrder: u.order()}
	return Transition{Previous: t.Status, Current: u.Status, Repeated: tracked && t.LastEventID == u.EventID}, nil
}

// orderedBefore: an event at (at, id) comes before or is the event at (uAt,
// uID), or there is none ("" at).
func orderedBefore(at, id, uAt, uID string) bool {
	return at == "" || at < uAt || (at == uAt && id <= uID)
}

// sameEvent: the state's status was set by the very event u (by its order
// and id; an item written before statusOrder existed, by its time and id).
func sameEvent(order, at, id string, u Update) bool {
	if id != u.EventID {
		return false
	}
	if order == "" {
		return at == u.OccurredAt
	}
	return order == u.order()
}

// statusBefore is statusNewer's rule in Go (the same event passes).
func statusBefore(order, at, id string, u Update) bool {
	if order == "" {
		return orderedBefore(at, id, u.OccurredAt, u.EventID)
	}
	o := u.order()
	return order < o || (order == o && id <= u.EventID)
}

// Memory is an Applier and Reader on in-memory states, each read once from
// Read (when set) and then moved forward in memory only: what applying
// would do, with nothing written.
type Memory struct {
	Read   Reader
	states map[string]*State
}

var (
	_ Applier = (*Memory)(nil)
	_ Reader  = (*Memory)(nil)
)

func (m *Memory) state(ctx context.Context, streamID string) (*State, error) {
	if st, ok := m.states[streamID]; ok {
		return st, nil
	}
	if m.states == nil {
		m.states = map[string]*State{}
	}
	st := State{StreamID: streamID}
	if m.Read != nil {
		got, err := m.Read.Get(ctx, streamID)
		switch {
		case err == nil:
			st = got
		case !errors.Is(err, ErrNotFound):
			return nil, err
		}
	}
	m.states[streamID] = &st
	return &st, nil
}

// Apply implements Applier.
func (m *Memory) Apply(ctx context.Context, u Update) (Transition, error) {
	st, err := m.state(ctx, u.StreamID)
	if err != nil {
		return Transition{}, err
	}
	return st.Apply(u)
}

// Get implements Reader.
func (m *Memory) Get(ctx context.Context, streamID string) (State, error) {
	st, err := m.state(ctx, streamID)
	if err != nil {
		return State{}, err
	}
	return *st, nil
}
