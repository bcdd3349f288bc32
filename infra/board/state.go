package board

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// Alert markings of a stream, as the fleet listing and the change feed
// carry them in their optional "alert" field.
const (
	// AlertHeld: the stream disconnected and the drop is held for its
	// grace period before it is announced.
	AlertHeld = "held"
	// AlertUnstable: the stream's encoder is flapping.
	AlertUnstable = "unstable"
)

// Names of the events the board pushes to the page.
const (
	// EventStream carries a stream's whole row after a change (StreamEvent).
	EventStream = "stream"
	// EventRemove says a stream left the board (it was deleted).
	EventRemove = "remove"
	// EventFeed says whether the board reads the change feed
	// (FeedEvent): while it cannot, the page says so.
	EventFeed = "feed"
)

// statusDeleted is the status that takes a stream or target off the board.
const statusDeleted = "deleted"

// ErrNotAChange: a feed message that is not a change of a stream.
var ErrNotAChange = errors.New("board: not a change message")

// Target is one simulcast target of a stream on the board.
type Target struct {
	Status string `json:"status"`
	Since  string `json:"since"`
}

// Stream is one row of the board. Its JSON reads a stream of the fleet
// listing (GET /streams) as it is, and is what the page receives.
type Stream struct {
	StreamID    string `json:"streamId"`
	WorkspaceID string `json:"workspaceId,omitempty"`
	Status      string `json:"status"`
	// Since is when the stream's status was last set.
	Since string `json:"since"`
	// Alert is AlertHeld, AlertUnstable or "", and HeldUntil when a held
	// drop's grace ends: the page shows "held" until then.
	Alert     string `json:"alert,omitempty"`
	HeldUntil string `json:"heldUntil,omitempty"`
	// LastEvent and LastEventAt are the type and time of the latest change
	// the board saw (empty for a stream only listed so far).
	LastEvent        string            `json:"lastEvent,omitempty"`
	LastEventAt      string            `json:"lastEventAt,omitempty"`
	SimulcastTargets map[string]Target `json:"simulcastTargets"`
}

// Change is one message of the change feed, as the board reads it: the
// fields of pkg/changefeed's message, plus the optional alert marking.
type Change struct {
	StreamID          string `json:"streamId"`
	SimulcastTargetID string `json:"simulcastTargetId,omitempty"`
	Workspace         struct {
		ID string `json:"id,omitempty"`
	} `json:"workspace"`
	PreviousStatus string `json:"previousStatus,omitempty"`
	Status         string `json:"status"`
	EventID        string `json:"eventId"`
	EventType      string `json:"type"`
	OccurredAt     string `json:"occurredAt"`
	// Alert is nil when the message has no "alert" field; HeldUntil comes
	// with a held one.
	Alert     *string `json:"alert,omitempty"`
	HeldUntil string  `json:"heldUntil,omitempty"`
}

// DecodeChange reads a change feed message.
func DecodeChange(message []byte) (Change, error) {
	var c Change
	if err := json.Unmarshal(message, &c); err != nil {
		return c, fmt.Errorf("%w: %w", ErrNotAChange, err)
	}
	if c.StreamID == "" || c.Status == "" {
		return c, fmt.Errorf("%w: no stream or status", ErrNotAChange)
	}
	return c, nil
}

// StreamEvent is the data of an EventStream event: the stream's row after
// the change, and the change itself.
type StreamEvent struct {
	Stream Stream `json:"stream"`
	Change Change `json:"change"`
}

// FeedEvent is the data of an EventFeed event.
type FeedEvent struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Snapshot is the answer of GET /api/fleet: the whole board, and the id of
// the last event it includes (the page follows the events after it).
type Snapshot struct {
	Streams     []Stream `json:"streams"`
	LastEventID string   `json:"lastEventId"`
	Workspace   string   `json:"workspace,omitempty"`
	LoadedAt    string   `json:"loadedAt,omitempty"`
	// FeedError is why the board cannot read the change feed now ("" when
	// it can).
	FeedError string `json:"feedError,omitempty"`
}

// State is the fleet in memory: loaded from the listing, kept current by
// the change feed, and published to the hub change by change. A change
// older than what a stream or target shows (by occurredAt, FastPix's
// time, not arrival) is ignored, so a late or repeated message never
// turns a row back.
type State struct {
	hub *Hub
	// workspace, when set, keeps changes of other workspaces off the
	// board (the subscription's filter policy already should).
	workspace string

	mu       sync.Mutex
	streams  map[string]*Stream
	loadedAt time.Time
	feedErr  string
}

// NewState returns an empty board publishing to hub.
func NewState(hub *Hub, workspace string) *State {
	return &State{hub: hub, workspace: workspace, streams: map[string]*Stream{}}
}

// Load merges a fleet listing into the board: a listed stream replaces
// what the board shows unless the board already holds something newer
// (a change that arrived while the listing was read). It tells the pages
// to reset, since they miss what Load changed.
func (s *State) Load(listed []Stream, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range listed {
		if l.SimulcastTargets == nil {
			l.SimulcastTargets = map[string]Target{}
		}
		cur, ok := s.streams[l.StreamID]
		if !ok {
			s.streams[l.StreamID] = &l
			continue
		}
		if before(cur.Since, l.Since) || cur.Status == "" {
			cur.Status, cur.Since, cur.Alert, cur.HeldUntil = l.Status, l.Since, l.Alert, l.HeldUntil
		}
		cur.WorkspaceID = cmp.Or(cur.WorkspaceID, l.WorkspaceID)
		for id, t := range l.SimulcastTargets {
			if ct, ok := cur.SimulcastTargets[id]; !ok || before(ct.Since, t.Since) {
				cur.SimulcastTargets[id] = t
			}
		}
	}
	s.loadedAt = at
	s.hub.Publish(EventReset, []byte("{}"))
}

// Apply applies one change of the feed and publishes the stream's new row
// (or its removal). It reports whether the board changed.
func (s *State) Apply(c Change) (bool, error) {
	if s.workspace != "" && c.Workspace.ID != s.workspace {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.streams[c.StreamID]
	if !ok {
		if c.Status == statusDeleted && c.SimulcastTargetID == "" {
			return false, nil
		}
		st = &Stream{StreamID: c.StreamID, SimulcastTargets: map[string]Target{}}
	}
	if c.SimulcastTargetID != "" {
		t, had := st.SimulcastTargets[c.SimulcastTargetID]
		if had && before(c.OccurredAt, t.Since) {
			return false, nil // stale
		}
		if c.Status == statusDeleted {
			delete(st.SimulcastTargets, c.SimulcastTargetID)
		} else {
			st.SimulcastTargets[c.SimulcastTargetID] = Target{Status: c.Status, Since: c.OccurredAt}
		}
		if c.Alert != nil {
			st.Alert, st.HeldUntil = *c.Alert, c.HeldUntil
		}
	} else {
		if st.Status != "" && before(c.OccurredAt, st.Since) {
			return false, nil // stale
		}
		if c.Status == statusDeleted {
			delete(s.streams, c.StreamID)
			data, err := json.Marshal(struct {
				StreamID string `json:"streamId"`
			}{c.StreamID})
			if err != nil {
				return false, fmt.Errorf("board: encode removal of %s: %w", c.StreamID, err)
			}
			s.hub.Publish(EventRemove, data)
			return true, nil
		}
		st.Status, st.Since = c.Status, c.OccurredAt
		// A stream's change says what its alert is now: none when the
		// message carries none.
		st.Alert, st.HeldUntil = "", ""
		if c.Alert != nil {
			st.Alert, st.HeldUntil = *c.Alert, c.HeldUntil
		}
	}
	st.WorkspaceID = cmp.Or(c.Workspace.ID, st.WorkspaceID)
	if !before(c.OccurredAt, st.LastEventAt) {
		st.LastEvent, st.LastEventAt = c.EventType, c.OccurredAt
	}
	s.streams[c.StreamID] = st
	data, err := json.Marshal(StreamEvent{Stream: *st, Change: c})
	if err != nil {
		return false, fmt.Errorf("board: encode stream %s: %w", c.StreamID, err)
	}
	s.hub.Publish(EventStream, data)
	return true, nil
}

// Snapshot is the whole board, streams by id, with the id of the last
// event it includes.
func (s *State) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Snapshot{Streams: make([]Stream, 0, len(s.streams)), LastEventID: s.hub.LastID(), Workspace: s.workspace, FeedError: s.feedErr}
	if !s.loadedAt.IsZero() {
		out.LoadedAt = s.loadedAt.UTC().Format(time.RFC3339)
	}
	for _, st := range s.streams {
		c := *st
		c.SimulcastTargets = maps.Clone(st.SimulcastTargets) // the caller encodes it unlocked
		out.Streams = append(out.Streams, c)
	}
	slices.SortFunc(out.Streams, func(a, b Stream) int { return cmp.Compare(a.StreamID, b.StreamID) })
	return out
}

// SetFeed records whether the change feed can be read (err nil: it can)
// and tells the pages when that changes.
func (s *State) SetFeed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg := ""
	if err != nil {
		msg = "the change feed cannot be read: " + err.Error()
	}
	if msg == s.feedErr {
		return
	}
	s.feedErr = msg
	data, _ := json.Marshal(FeedEvent{OK: err == nil, Error: msg}) // two plain fields always encode
	s.hub.Publish(EventFeed, data)
}

// Len is how many streams the board shows.
func (s *State) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}

// before reports whether time a is earlier than time b. The stack writes
// its times with a fixed nine fractional digits, so their text order is
// their time order; a time written otherwise (RFC 3339 with fewer digits:
// "10:00:00.5Z" sorts before "10:00:00Z" as text) is compared as a time.
// Text that is no time at all compares as text.
func before(a, b string) bool {
	ta, errA := time.Parse(time.RFC3339Nano, a)
	tb, errB := time.Parse(time.RFC3339Nano, b)
	if errA == nil && errB == nil {
		return ta.Before(tb)
	}
	return a < b
}
