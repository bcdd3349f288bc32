package fastpix

import (
	"slices"
	"strings"
)

// Change is what an event does to the state of what it is about: its live
// stream, or one of the stream's simulcast targets.
//
// Only status transitions move a status. Every other event about a stream
// (recording, updated, an event type FastPix adds later) is information:
// it never makes a transition look stale, and no transition makes it stale,
// because it says nothing about the status.
type Change struct {
	// Target: the event is about a simulcast target, not the stream itself.
	Target bool
	// Transition: the event moves the stream's (or target's) status.
	Transition bool
	// Status is the status a transition gives; "" for information.
	Status string
	// Rank is the transition's place in the lifecycle, which orders two
	// transitions that FastPix stamped with the very same createdAt
	// (a disconnect comes after the active it ends). Higher is later.
	Rank int
}

// streamRanks are the live stream's status transitions, in lifecycle order.
var streamRanks = map[string]int{
	"created": 1, "enabled": 2, "preparing": 3, "connected": 4, "active": 5,
	"disconnected": 6, "idle": 7, "disabled": 8, "deleted": 9,
}

// StreamStatuses are the statuses a stream's transitions set, in lifecycle
// order (a created or enabled stream usually takes its payload's status
// instead, idle).
func StreamStatuses() []string {
	out := make([]string, 0, len(streamRanks))
	for s := range streamRanks {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b string) int { return streamRanks[a] - streamRanks[b] })
	return out
}

// targetRanks are a simulcast target's status transitions (both spellings).
var targetRanks = map[string]int{
	"created": 1, "starting": 2, "broadcasting": 3, "deleted": 9,
}

// payloadStatusActions are transitions whose own name is not a status: a
// created or enabled stream is in whatever status the payload says (idle,
// in FastPix's payloads), and in the action's name when it says none.
var payloadStatusActions = map[string]bool{"created": true, "enabled": true}

// ChangeOf says what an event of eventType changes, given the payload's
// status (Event.Status), and false for events about no stream state: media
// events (recordings and clips included: they describe a media, not the
// stream) and types this package does not know.
func ChangeOf(eventType, payloadStatus string) (Change, bool) {
	if !strings.HasPrefix(eventType, liveStreamPrefix) {
		return Change{}, false
	}
	action := Action(eventType)
	if IsSimulcast(eventType) {
		rank, ok := targetRanks[action]
		if !ok {
			return Change{Target: true}, true
		}
		return Change{Target: true, Transition: true, Status: action, Rank: rank}, true
	}
	rank, ok := streamRanks[action]
	if !ok {
		return Change{}, true
	}
	status := action
	if payloadStatusActions[action] && payloadStatus != "" {
		status = payloadStatus
	}
	return Change{Transition: true, Status: status, Rank: rank}, true
}

// IsDeletion: the transition removes its stream or target.
func (c Change) IsDeletion() bool { return c.Transition && c.Rank == streamRanks["deleted"] }
