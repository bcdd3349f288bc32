// Package alertrules decides which alerts a live stream's lifecycle
// deserves, so people are told what they can act on and nothing else:
//
//   - a disconnect is held for a grace: a reconnection within it is a brief
//     drop, alerted neither as a disconnect nor as a "live" (nobody was told
//     the stream went down); a disconnect left alone for the grace is
//     alerted once;
//   - an active after an alerted disconnect is a recovery, alerted with the
//     time the stream was down; a first active is "went live"; an active
//     while the stream is already live says nothing;
//   - a stream with FlapThreshold brief drops within FlapWindow is
//     unstable, alerted at most once per window;
//   - a simulcast target that starts broadcasting (the restream is live on
//     YouTube, Twitch, …) is alerted each time it does (Target); its other
//     statuses are on the change feed, not alerted.
//
// The rules see a stream's transitions one at a time, in the order they
// reached us, which for every event but a late one is the order of the
// stream's log (pkg/eventstore): an event is late when a newer event of
// its stream reached us before it did (a delivery FastPix retried later).
// So what they decide depends on what FastPix sent and when we received
// it, never on how or when the notifier did its work. Every rule is judged
// by the events' own times and by when the webhook received them:
//
//   - a held disconnect is due at the later of its occurredAt plus the
//     grace and its own receive time (a disconnect that reaches us after
//     its grace is due at once), and is alerted once anything reaches us
//     after that, or the check runs after it (Settle);
//   - a reconnection makes the drop brief when it happened within the grace
//     (by event time) and reached us by the time the drop was due; one that
//     reached us later finds the drop alerted, and is a recovery;
//   - a late event is never alerted; a late brief drop still counts towards
//     the stream being unstable (Late).
//
// The package is pure: it takes what the rules remember of a stream
// (Memory), the transition being applied, and returns the alerts and the
// memory to keep. Storing the memory, publishing and queueing the check are
// pkg/notify's.
package alertrules

import (
	"slices"
	"time"
)

// The statuses the rules know; every other status leaves the memory as it is.
const (
	StatusActive       = "active"
	StatusConnected    = "connected"
	StatusDisconnected = "disconnected"
	// StatusBroadcasting is a simulcast target's status while it restreams.
	StatusBroadcasting = "broadcasting"
)

// sessionEnds are the statuses after which a stream's live session is
// over: a held disconnect is alerted at once (the stream did not come
// back), and the next active is "went live" again, not a recovery.
var sessionEnds = map[string]bool{"idle": true, "disabled": true, "deleted": true}

// MaxDrops bounds the brief drops remembered per stream, so the state item
// stays small whatever an encoder does.
const MaxDrops = 50

// Kind is what an alert says.
type Kind string

// The kinds of alert the rules decide.
const (
	// KindLive: the stream went live (a first active).
	KindLive Kind = "live"
	// KindRecovery: the stream is live again after an alerted disconnect.
	KindRecovery Kind = "recovery"
	// KindDisconnected: the stream dropped and did not come back within the
	// grace.
	KindDisconnected Kind = "disconnected"
	// KindUnstable: FlapThreshold brief drops within FlapWindow.
	KindUnstable Kind = "unstable"
	// KindSimulcast: a simulcast target started broadcasting.
	KindSimulcast Kind = "simulcast"
)

// Alert is one decided alert.
type Alert struct {
	Kind Kind `json:"kind"`
	// EventID and OccurredAt are the event's the alert is about: the
	// disconnect for KindDisconnected, the active for KindLive and
	// KindRecovery, the reconnection that made the last brief drop for
	// KindUnstable.
	EventID    string    `json:"eventId"`
	OccurredAt time.Time `json:"occurredAt"`
	// PreviousStatus and Status are the transition's: the status before the
	// event and the one it set.
	PreviousStatus string `json:"previousStatus,omitempty"`
	Status         string `json:"status"`
	// LiveFor (KindDisconnected) is how long the stream had been live, from
	// the active that was alerted to the disconnect; 0 when not known.
	LiveFor time.Duration `json:"liveFor,omitempty"`
	// Grace (KindDisconnected) is how long the disconnect was held.
	Grace time.Duration `json:"grace,omitempty"`
	// DownFor (KindRecovery) is from the alerted disconnect to the active.
	DownFor time.Duration `json:"downFor,omitempty"`
	// Drops and Window (KindUnstable): that many brief drops within Window.
	Drops  int           `json:"drops,omitempty"`
	Window time.Duration `json:"window,omitempty"`
}

// Held is a disconnect waiting for its grace to pass.
type Held struct {
	EventID        string    `json:"eventId"`
	OccurredAt     time.Time `json:"occurredAt"`
	PreviousStatus string    `json:"previousStatus,omitempty"`
	// Due is when the disconnect is alerted unless the stream came back
	// (see the package doc). A memory written before Due existed is due at
	// OccurredAt plus the grace.
	Due time.Time `json:"due,omitzero"`
}

// due is h's due time under s.
func (h Held) due(s Settings) time.Time {
	if h.Due.IsZero() {
		return h.OccurredAt.Add(s.Grace)
	}
	return h.Due
}

// Down is the alerted disconnect the stream has not recovered from.
type Down struct {
	Alert Alert `json:"alert"`
}

// Memory is what the rules remember of one stream between events. The zero
// value is a stream never seen.
type Memory struct {
	// LiveSince is when the live session people were told about started
	// (the active alerted as live or as a recovery); zero while people were
	// not told the stream is live.
	LiveSince time.Time `json:"liveSince,omitzero"`
	// Held is the disconnect waiting for its grace.
	Held *Held `json:"held,omitempty"`
	// Down is the alerted disconnect, until the stream is back or its
	// session ends.
	Down *Down `json:"down,omitempty"`
	// Drops are the times (their disconnects') of the recent brief drops,
	// oldest first, within the flap window of the newest, each once.
	Drops []time.Time `json:"drops,omitempty"`
	// UnstableAt is the event time of the last unstable alert.
	UnstableAt time.Time `json:"unstableAt,omitzero"`
}

// Clone is a deep copy of m.
func (m Memory) Clone() Memory {
	c := m
	if m.Held != nil {
		h := *m.Held
		c.Held = &h
	}
	if m.Down != nil {
		d := *m.Down
		c.Down = &d
	}
	c.Drops = slices.Clone(m.Drops)
	return c
}

// Transition is one lifecycle event applied to a stream's state.
type Transition struct {
	EventID    string
	OccurredAt time.Time
	// ReceivedAt is when the webhook received the event.
	ReceivedAt time.Time
	// Previous is the stream's status before the event ("" for a stream the
	// state did not know); Status the one the event set.
	Previous string
	Status   string
}

// Decision is what to do for one transition, or for one settling of the
// memory.
type Decision struct {
	// Alerts to publish, in this order.
	Alerts []Alert
	// BriefDrop: the transition is a reconnection within the grace.
	BriefDrop bool
	// Memory is what to keep.
	Memory Memory
}

// The marks a screen shows beside a stream's status (Memory.Mark).
const (
	// MarkHeld: the stream disconnected and the drop is held for the
	// grace: it may yet be brief, nobody has been told.
	MarkHeld = "held"
	// MarkUnstable: the live session people were told about has had an
	// unstable alert (its encoder flaps).
	MarkUnstable = "unstable"
)

// Mark is what the rules' view of a stream adds to its status on a screen
// (the fleet listing, the change feed, the board): MarkHeld while a
// disconnect is held, with when its grace ends (zero when the memory
// predates Held.Due); MarkUnstable while the session that was alerted
// unstable goes on; "" otherwise.
func (m Memory) Mark() (mark string, heldUntil time.Time) {
	switch {
	case m.Held != nil:
		return MarkHeld, m.Held.Due
	case !m.UnstableAt.IsZero() && !m.LiveSince.IsZero() && !m.UnstableAt.Before(m.LiveSince):
		return MarkUnstable, time.Time{}
	}
	return "", time.Time{}
}

// Target decides what tr, a simulcast target's applied transition, means:
// a target that starts broadcasting is alerted, every time it does (a
// target has no grace: FastPix reports its failure, and the stream's own
// drop is what the rules hold). Other target statuses alert no one.
func Target(tr Transition) []Alert {
	if tr.Status != StatusBroadcasting {
		return nil
	}
	return []Alert{{Kind: KindSimulcast, EventID: tr.EventID, OccurredAt: tr.OccurredAt, PreviousStatus: tr.Previous, Status: tr.Status}}
}

// Apply decides what tr, the stream's next transition in its log, means
// for a stream whose memory is m. It holds a disconnect, and never decides
// one whose grace has passed by itself: Settle does, once every transition
// that reached us before it was due has been applied.
func Apply(m Memory, tr Transition, s Settings) Decision {
	d := &Decision{Memory: m.Clone()}
	switch {
	case tr.Status == StatusDisconnected:
		d.disconnect(tr, s)
	case tr.Status == StatusConnected:
		d.reconnect(tr, s)
	case tr.Status == StatusActive:
		d.reconnect(tr, s)
		d.live(tr)
	case sessionEnds[tr.Status]:
		d.end(s)
	}
	return *d
}

// Settle decides the held disconnect whose due time has passed at now
// (strictly: what reaches us at the due time itself is in time): the stream
// did not come back in time, so it is alerted. Everything that
// reached us before it was due is in the log, and was applied before this
// is called, so the decision does not depend on when it is made.
func Settle(m Memory, s Settings, now time.Time) Decision {
	d := &Decision{Memory: m.Clone()}
	if h := m.Held; h != nil && now.After(h.due(s)) {
		d.alertDisconnect(*h, s)
	}
	return *d
}

// Pending is when the held disconnect of m is due, and whether one is held.
func Pending(m Memory, s Settings) (time.Time, bool) {
	if m.Held == nil {
		return time.Time{}, false
	}
	return m.Held.due(s), true
}

// Late decides a disconnect that reached us after a newer event of its
// stream had (a delivery FastPix retried later): it is never alerted (the
// stream has moved on), but when next, the stream's transition after it in
// the log among those that reached us before it, made it a brief drop, the
// drop counts towards the stream being unstable. Deciding the same late
// drop twice counts it once.
func Late(m Memory, drop Transition, next *Transition, s Settings) Decision {
	d := &Decision{Memory: m.Clone()}
	if drop.Status != StatusDisconnected || next == nil || (next.Status != StatusConnected && next.Status != StatusActive) {
		return *d
	}
	h := heldOf(drop, s)
	if brief(h, *next, s) {
		d.BriefDrop = true
		d.countDrop(drop.OccurredAt, *next, s)
	}
	return *d
}

func heldOf(tr Transition, s Settings) Held {
	due := tr.OccurredAt.Add(s.Grace)
	if tr.ReceivedAt.After(due) {
		due = tr.ReceivedAt
	}
	return Held{EventID: tr.EventID, OccurredAt: tr.OccurredAt, PreviousStatus: tr.Previous, Due: due}
}

// brief: tr came back within the grace of h, by event time, and reached us
// by the time h was due.
func brief(h Held, tr Transition, s Settings) bool {
	return tr.OccurredAt.Sub(h.OccurredAt) <= s.Grace && !tr.ReceivedAt.After(h.due(s))
}

func (d *Decision) disconnect(tr Transition, s Settings) {
	m := &d.Memory
	if m.Held != nil || m.Down != nil {
		// The first disconnect is already held, or people already know the
		// stream is down: another one says nothing new.
		return
	}
	h := heldOf(tr, s)
	m.Held = &h
}

// alertDisconnect decides the disconnect alert of held: the stream is down
// as far as people know.
func (d *Decision) alertDisconnect(held Held, s Settings) {
	m := &d.Memory
	a := Alert{
		Kind: KindDisconnected, EventID: held.EventID, OccurredAt: held.OccurredAt,
		PreviousStatus: held.PreviousStatus, Status: StatusDisconnected, Grace: s.Grace,
	}
	if !m.LiveSince.IsZero() && held.OccurredAt.After(m.LiveSince) {
		a.LiveFor = held.OccurredAt.Sub(m.LiveSince)
	}
	m.Down = &Down{Alert: a}
	m.Held = nil
	m.LiveSince = time.Time{}
	d.Alerts = append(d.Alerts, a)
}

// reconnect ends a held disconnect: a brief drop when the stream is back
// within the grace, else the disconnect is alerted now.
func (d *Decision) reconnect(tr Transition, s Settings) {
	m := &d.Memory
	if m.Held == nil {
		return
	}
	held := *m.Held
	if !brief(held, tr, s) {
		d.alertDisconnect(held, s)
		return
	}
	m.Held = nil
	d.BriefDrop = true
	d.countDrop(held.OccurredAt, tr, s)
}

// countDrop remembers a brief drop at dropAt (once) and decides the
// unstable alert.
func (d *Decision) countDrop(dropAt time.Time, tr Transition, s Settings) {
	m := &d.Memory
	window := s.FlapWindow
	if window <= 0 {
		window = Defaults().FlapWindow
	}
	if slices.ContainsFunc(m.Drops, dropAt.Equal) {
		return
	}
	drops := make([]time.Time, 0, len(m.Drops)+1)
	for _, t := range m.Drops {
		if t.After(dropAt.Add(-window)) {
			drops = append(drops, t)
		}
	}
	drops = append(drops, dropAt)
	slices.SortFunc(drops, time.Time.Compare)
	if len(drops) > MaxDrops {
		drops = drops[len(drops)-MaxDrops:]
	}
	m.Drops = drops
	if s.FlapThreshold == 0 || len(drops) < s.FlapThreshold {
		return
	}
	if !m.UnstableAt.IsZero() && tr.OccurredAt.Before(m.UnstableAt.Add(window)) {
		return
	}
	m.UnstableAt = tr.OccurredAt
	d.Alerts = append(d.Alerts, Alert{
		Kind: KindUnstable, EventID: tr.EventID, OccurredAt: tr.OccurredAt,
		PreviousStatus: tr.Previous, Status: tr.Status, Drops: len(drops), Window: window,
	})
}

// live decides the alert of an active.
func (d *Decision) live(tr Transition) {
	m := &d.Memory
	switch {
	case m.Down != nil:
		d.Alerts = append(d.Alerts, Alert{
			Kind: KindRecovery, EventID: tr.EventID, OccurredAt: tr.OccurredAt,
			PreviousStatus: tr.Previous, Status: tr.Status,
			DownFor: max(tr.OccurredAt.Sub(m.Down.Alert.OccurredAt), 0),
		})
		m.Down = nil
		m.LiveSince = tr.OccurredAt
	case m.LiveSince.IsZero():
		d.Alerts = append(d.Alerts, Alert{
			Kind: KindLive, EventID: tr.EventID, OccurredAt: tr.OccurredAt,
			PreviousStatus: tr.Previous, Status: tr.Status,
		})
		m.LiveSince = tr.OccurredAt
	}
	// Otherwise people already know the stream is live: another active
	// (another event id), or the reconnection of a brief drop.
}

// end closes the stream's live session: a held disconnect did not come
// back, so it is alerted now.
func (d *Decision) end(s Settings) {
	m := &d.Memory
	if m.Held != nil {
		d.alertDisconnect(*m.Held, s)
	}
	m.Down = nil
	m.LiveSince = time.Time{}
}
