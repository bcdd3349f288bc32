// Package alertrules decides which alerts a live stream's lifecycle
// deserves, so people are told what they can act on and nothing else:
//
//   - a disconnect is held for a grace, by event time: a reconnection
//     within it is a brief drop, alerted neither as a disconnect nor as a
//     "live" (nobody was told the stream went down); a disconnect left alone
//     for the grace is alerted once, by a delayed check;
//   - an active after an alerted disconnect is a recovery, alerted with the
//     time the stream was down; a first active is "went live"; an active
//     while the stream is already live says nothing;
//   - a stream with FlapThreshold brief drops within FlapWindow is
//     unstable, alerted at most once per window.
//
// Every rule is judged by the events' own times (occurredAt), never by when
// they arrive: a disconnect that reaches us after its grace has passed is
// decided at once, a reconnection that comes after the grace (by event time)
// does not make the drop brief.
//
// The package is pure: it takes what the stream state remembers (Memory),
// the transition being applied and the clock, and returns the decision and
// the memory to store. Storing it (a conditional write, so that a decision
// is made once), publishing and queueing the check are the caller's.
package alertrules

import (
	"bytes"
	"encoding/json"
	"slices"
	"time"
)

// The statuses the rules know; every other status leaves the memory as it is.
const (
	StatusActive       = "active"
	StatusConnected    = "connected"
	StatusDisconnected = "disconnected"
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

// Held is a disconnect waiting for its check.
type Held struct {
	EventID        string    `json:"eventId"`
	OccurredAt     time.Time `json:"occurredAt"`
	PreviousStatus string    `json:"previousStatus,omitempty"`
}

// Down is the alerted disconnect the stream has not recovered from.
type Down struct {
	Alert Alert `json:"alert"`
	// Published: the alert is known to have left. A disconnect decided by a
	// check is stored before it is published and confirmed after; until
	// then a redelivered check, or the recovery, sends it (again).
	Published bool `json:"published"`
}

// Last is the latest event the rules applied and what they decided for it,
// so that the same event applied again (a retried record) gets the same
// alerts, and an older one is recognised.
type Last struct {
	EventID    string    `json:"eventId"`
	OccurredAt time.Time `json:"occurredAt"`
	Alerts     []Alert   `json:"alerts,omitempty"`
	Hold       *Hold     `json:"hold,omitempty"`
}

// Memory is what the rules remember of one stream between events. The zero
// value is a stream never seen.
type Memory struct {
	// LiveSince is when the live session people were told about started
	// (the active alerted as live or as a recovery); zero while people were
	// not told the stream is live.
	LiveSince time.Time `json:"liveSince,omitzero"`
	// Held is the disconnect waiting for its check.
	Held *Held `json:"held,omitempty"`
	// Down is the alerted disconnect, until the stream is back or its
	// session ends.
	Down *Down `json:"down,omitempty"`
	// Drops are the times (their disconnects') of the recent brief drops,
	// oldest first, within the flap window of the newest.
	Drops []time.Time `json:"drops,omitempty"`
	// UnstableAt is the event time of the last unstable alert.
	UnstableAt time.Time `json:"unstableAt,omitzero"`
	Last       *Last     `json:"last,omitempty"`
}

func (m Memory) clone() Memory {
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
	if m.Last != nil {
		l := *m.Last
		l.Alerts = slices.Clone(m.Last.Alerts)
		if m.Last.Hold != nil {
			h := *m.Last.Hold
			l.Hold = &h
		}
		c.Last = &l
	}
	return c
}

// Transition is one lifecycle event applied to a stream's state.
type Transition struct {
	EventID    string
	OccurredAt time.Time
	// Previous is the stream's status before the event ("" for a stream the
	// state did not know); Status the one the event set.
	Previous string
	Status   string
}

// Hold asks for a check of a held disconnect after Delay.
type Hold struct {
	EventID    string        `json:"eventId"`
	OccurredAt time.Time     `json:"occurredAt"`
	Delay      time.Duration `json:"delay"`
}

// Decision is what to do for one transition.
type Decision struct {
	// Alerts to publish, in this order.
	Alerts []Alert
	// Hold, when set: queue a check of the disconnect after Hold.Delay.
	Hold *Hold
	// BriefDrop: the transition is a reconnection within the grace.
	BriefDrop bool
	// Replay: the transition is the last one applied, again (a retry): the
	// same alerts and hold as the first time, and Memory unchanged.
	Replay bool
	// Stale: the rules already applied a newer event (two deliveries raced);
	// nothing to do.
	Stale bool
	// Memory is what to store; Changed says whether it must be stored:
	// whenever the transition decided something or changed what the rules
	// remember. A transition that says nothing and changes nothing (a
	// connected, an idle of a stream nobody was told about) is not written:
	// a retry of it decides the same nothing again.
	Memory  Memory
	Changed bool
}

// Apply decides what tr means for a stream whose memory is m, at now.
func Apply(m Memory, tr Transition, s Settings, now time.Time) Decision {
	if last := m.Last; last != nil {
		if last.EventID == tr.EventID {
			d := Decision{Replay: true, Memory: m.clone(), Alerts: slices.Clone(last.Alerts)}
			if h := last.Hold; h != nil {
				d.Hold = &Hold{EventID: h.EventID, OccurredAt: h.OccurredAt, Delay: max(checkDelay(s, h.OccurredAt, now), 0)}
			}
			return d
		}
		if tr.OccurredAt.Before(last.OccurredAt) {
			return Decision{Stale: true, Memory: m.clone()}
		}
	}
	d := &Decision{Memory: m.clone()}
	switch {
	case tr.Status == StatusDisconnected:
		d.disconnect(tr, s, now)
	case tr.Status == StatusConnected:
		d.reconnect(tr, s)
	case tr.Status == StatusActive:
		d.reconnect(tr, s)
		d.live(tr)
	case sessionEnds[tr.Status]:
		d.end(s)
	}
	d.Changed = len(d.Alerts) > 0 || d.Hold != nil || !sameMemory(m, d.Memory)
	if !d.Changed {
		return *d
	}
	d.Memory.Last = &Last{EventID: tr.EventID, OccurredAt: tr.OccurredAt, Alerts: slices.Clone(d.Alerts)}
	if d.Hold != nil {
		h := *d.Hold
		d.Memory.Last.Hold = &h
	}
	return *d
}

// sameMemory: a and b remember the same, their last decision aside.
func sameMemory(a, b Memory) bool {
	a.Last, b.Last = nil, nil
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// ApplyAll is Apply for tr when the memory has not heard of missed, status
// transitions the state applied just before tr whose own decisions were
// never stored (their events were processed at the same time as tr, and
// tr's state write came first, so theirs could not be stored): it decides
// them first, in order, then tr, and returns one decision for them all,
// remembered as tr's. A missed transition the memory already holds, or
// older than what it holds, is skipped.
func ApplyAll(m Memory, missed []Transition, tr Transition, s Settings, now time.Time) Decision {
	if m.Last != nil && m.Last.EventID == tr.EventID {
		return Apply(m, tr, s, now)
	}
	cur := m.clone()
	var caught []Alert
	var holds []Hold
	changed := false
	for _, p := range missed {
		if p.EventID == tr.EventID || m.Last != nil && (m.Last.EventID == p.EventID || p.OccurredAt.Before(m.Last.OccurredAt)) {
			continue
		}
		d := Apply(cur, p, s, now)
		if d.Stale || d.Replay || !d.Changed {
			continue
		}
		caught = append(caught, d.Alerts...)
		if d.Hold != nil {
			holds = append(holds, *d.Hold)
		}
		cur, changed = d.Memory, true
	}
	d := Apply(cur, tr, s, now)
	if !changed || d.Stale {
		return d
	}
	d.Alerts = append(caught, d.Alerts...)
	if d.Hold == nil {
		for _, h := range holds {
			if d.Memory.Held != nil && d.Memory.Held.EventID == h.EventID {
				h.Delay = max(checkDelay(s, h.OccurredAt, now), 0)
				d.Hold = &h
			}
		}
	}
	d.Changed = true
	d.Memory.Last = &Last{EventID: tr.EventID, OccurredAt: tr.OccurredAt, Alerts: slices.Clone(d.Alerts)}
	if d.Hold != nil {
		h := *d.Hold
		d.Memory.Last.Hold = &h
	}
	return d
}

// checkDelay is what is left of the grace of a disconnect at occurredAt,
// at most MaxGrace (an event clock ahead of ours makes it longer than the
// grace; the check then waits for the rest).
func checkDelay(s Settings, occurredAt, now time.Time) time.Duration {
	return min(s.Grace-now.Sub(occurredAt), MaxGrace)
}

func (d *Decision) disconnect(tr Transition, s Settings, now time.Time) {
	m := &d.Memory
	if m.Held != nil || m.Down != nil {
		// The first disconnect is already held, or people already know the
		// stream is down: another one says nothing new.
		return
	}
	held := Held{EventID: tr.EventID, OccurredAt: tr.OccurredAt, PreviousStatus: tr.Previous}
	delay := checkDelay(s, tr.OccurredAt, now)
	if s.Grace == 0 || delay <= 0 {
		// Grace 0, or the disconnect reached us after its grace: decided at
		// once. No newer lifecycle event is applied (it would have made this
		// one stale), so the stream has not come back.
		d.alertDisconnect(held, s, true)
		return
	}
	m.Held = &held
	d.Hold = &Hold{EventID: tr.EventID, OccurredAt: tr.OccurredAt, Delay: delay}
}

// alertDisconnect decides the disconnect alert of held: the stream is down
// as far as people know.
func (d *Decision) alertDisconnect(held Held, s Settings, published bool) {
	m := &d.Memory
	a := disconnectAlert(*m, held, s)
	m.Down = &Down{Alert: a, Published: published}
	m.Held = nil
	m.LiveSince = time.Time{}
	d.Alerts = append(d.Alerts, a)
}

func disconnectAlert(m Memory, held Held, s Settings) Alert {
	a := Alert{
		Kind: KindDisconnected, EventID: held.EventID, OccurredAt: held.OccurredAt,
		PreviousStatus: held.PreviousStatus, Status: StatusDisconnected, Grace: s.Grace,
	}
	if !m.LiveSince.IsZero() && held.OccurredAt.After(m.LiveSince) {
		a.LiveFor = held.OccurredAt.Sub(m.LiveSince)
	}
	return a
}

// reconnect ends a held disconnect: a brief drop when the stream is back
// within the grace (by event time), else the disconnect is alerted now (its
// check has not run yet, or the reconnection reached us late).
func (d *Decision) reconnect(tr Transition, s Settings) {
	m := &d.Memory
	if m.Held == nil {
		return
	}
	held := *m.Held
	if tr.OccurredAt.Sub(held.OccurredAt) > s.Grace {
		d.alertDisconnect(held, s, true)
		return
	}
	m.Held = nil
	d.BriefDrop = true
	d.countDrop(held.OccurredAt, tr, s)
}

// countDrop remembers a brief drop at dropAt and decides the unstable alert.
func (d *Decision) countDrop(dropAt time.Time, tr Transition, s Settings) {
	m := &d.Memory
	window := s.FlapWindow
	if window <= 0 {
		window = Defaults().FlapWindow
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
		if !m.Down.Published {
			d.Alerts = append(d.Alerts, m.Down.Alert)
		}
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
	switch {
	case m.Held != nil:
		d.alertDisconnect(*m.Held, s, true)
	case m.Down != nil && !m.Down.Published:
		d.Alerts = append(d.Alerts, m.Down.Alert)
	}
	m.Down = nil
	m.LiveSince = time.Time{}
}

// CheckReason says why a check decided what it did.
type CheckReason string

// The outcomes of a check.
const (
	// CheckAlerted: the disconnect was still held: alert it.
	CheckAlerted CheckReason = "alerted"
	// CheckResent: an earlier delivery of the check decided the alert but
	// its publish was not confirmed: send it again.
	CheckResent CheckReason = "resent"
	// CheckEarly: the grace has not passed by the event's time (its clock
	// is ahead of ours): check again after Requeue.
	CheckEarly CheckReason = "early"
	// CheckAlreadyAlerted: the disconnect was alerted and confirmed.
	CheckAlreadyAlerted CheckReason = "already alerted"
	// CheckNotHeld: the disconnect is no longer held: the stream came back
	// (a brief drop), or a later event decided it.
	CheckNotHeld CheckReason = "not held"
)

// CheckDecision is what to do for one delivered check.
type CheckDecision struct {
	Reason CheckReason
	// Alert to publish (CheckAlerted, CheckResent).
	Alert *Alert
	// Requeue is the delay of the next check (CheckEarly).
	Requeue time.Duration
	// Memory is what to store when Changed; after the publish, Confirm
	// marks the alert as sent.
	Memory  Memory
	Changed bool
}

// earlyTolerance is how early a check may come and still be decided: SQS
// delays by whole seconds.
const earlyTolerance = time.Second

// DecideCheck decides the check of the disconnect eventID for a stream
// whose memory is m, at now. A disconnect is alerted once: the memory to
// store records it, so a check delivered again finds it alerted.
func DecideCheck(m Memory, eventID string, s Settings, now time.Time) CheckDecision {
	switch {
	case m.Held != nil && m.Held.EventID == eventID:
		if rest := checkDelay(s, m.Held.OccurredAt, now); rest > earlyTolerance {
			return CheckDecision{Reason: CheckEarly, Requeue: rest, Memory: m.clone()}
		}
		d := &Decision{Memory: m.clone()}
		d.alertDisconnect(*m.Held, s, false)
		a := d.Alerts[0]
		return CheckDecision{Reason: CheckAlerted, Alert: &a, Memory: d.Memory, Changed: true}
	case m.Down != nil && m.Down.Alert.EventID == eventID:
		if m.Down.Published {
			return CheckDecision{Reason: CheckAlreadyAlerted, Memory: m.clone()}
		}
		a := m.Down.Alert
		return CheckDecision{Reason: CheckResent, Alert: &a, Memory: m.clone()}
	}
	return CheckDecision{Reason: CheckNotHeld, Memory: m.clone()}
}

// Confirm records that the disconnect alert of eventID has left, and
// reports whether that changed m.
func Confirm(m Memory, eventID string) (Memory, bool) {
	if m.Down == nil || m.Down.Alert.EventID != eventID || m.Down.Published {
		return m, false
	}
	c := m.clone()
	c.Down.Published = true
	return c, true
}
