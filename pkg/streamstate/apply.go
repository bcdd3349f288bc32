package streamstate

import "fmt"

// Apply applies u to st in memory: a status moves only forward (by
// occurredAt, then the lifecycle's rank, then event id), other events only
// move the detail attributes, a deleted target's entry is removed and at
// most MaxSimulcastTargets targets are tracked. The notifier applies a
// stream's log in order, so an event is stale here only when it reached us
// after newer ones were applied. st.StreamID must be u.StreamID.
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
			return Transition{Previous: st.PreviousStatus, Current: st.Status, Repeated: true}, nil
		}
		if !statusBefore(st.StatusOrder, st.LastOccurredAt, st.LastEventID, u) {
			return Transition{}, fmt.Errorf("%w: stream %s, event %s", ErrStale, u.StreamID, u.EventID)
		}
		tr := Transition{Previous: st.Status, Current: u.Status}
		if u.WorkspaceID != "" {
			st.WorkspaceID = u.WorkspaceID
		}
		if u.WorkspaceName != "" {
			st.WorkspaceName = u.WorkspaceName
		}
		st.Test = u.Test
		st.PreviousStatus = st.Status
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

// check refuses an update that no retry could apply, before any request.
func (u Update) check() error {
	if u.StreamID == "" || u.EventID == "" || u.OccurredAt == "" {
		return fmt.Errorf("%w: %w: stream %.64q, event %.64q, occurredAt %.64q", ErrInvalid, ErrUnprocessable, u.StreamID, u.EventID, u.OccurredAt)
	}
	if u.SimulcastID != "" {
		for name, v := range map[string]string{"simulcast target id": u.SimulcastID, "event id": u.EventID, "event type": u.EventType} {
			if len(v) > MaxTargetFieldBytes {
				return fmt.Errorf("%w: %w: %s is %d bytes, at most %d are kept", ErrInvalid, ErrUnprocessable, name, len(v), MaxTargetFieldBytes)
			}
		}
	}
	return nil
}
