package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/checkqueue"
	"github.com/streamhook/fastpix-receiver/pkg/deadletter"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// maxConflicts bounds the read-apply-write rounds of one stream when other
// notifiers keep writing it; each lost round means another made progress.
const maxConflicts = 50

// settleMargin is how much earlier than its read of the log a pass
// decides held disconnects: an event is stamped when the webhook receives
// it and is in the log once its write is acknowledged, a moment later.
// With the margin, a reconnection that reached the webhook before the
// drop was due is in the log when the drop is decided, unless its write
// took longer than the margin. A disconnect is alerted this much after its
// grace at the earliest.
const settleMargin = time.Second

// settleMargin is the margin under the rules' grace: with no grace, no
// reconnection can make a drop brief, and a drop is alerted at once.
func (n *Notifier) settleMargin() time.Duration { return min(settleMargin, n.Rules.Grace) }

// checkRetry is when a check that could not send what it decided runs
// again.
const checkRetry = 5 * time.Second

// defaultLease is how long a notifier may send a stream's pending effects
// when its context has no deadline.
const defaultLease = 30 * time.Second

// ApplyStream brings the stream whose log key is key up to date with its
// log. eventIDs are the events whose stream records rang for it: one the
// log read does not return reached us after newer events of the stream
// were applied, and is judged late. An error means "retry the records":
// nothing applied or decided is lost, and the retry applies and sends
// nothing twice.
func (n *Notifier) ApplyStream(ctx context.Context, key string, eventIDs []string) ([]EventResult, error) {
	streamID, ok := eventstore.StreamOfLogKey(key)
	if !ok {
		// Events about no stream move no state and alert no one.
		rs := make([]EventResult, len(eventIDs))
		for i, id := range eventIDs {
			rs[i] = EventResult{EventID: id, Outcome: Recorded}
		}
		return rs, nil
	}
	results, _, err := n.bringUpToDate(ctx, streamID, key, eventIDs, nil)
	return results, err
}

// Check runs the check of a held disconnect (checkqueue.Checker): the
// stream is brought up to date with its log, and the disconnect, when its
// grace has passed and the stream has not come back, is alerted. A check
// that comes early (SQS delays by whole seconds) is queued again.
func (n *Notifier) Check(ctx context.Context, c checkqueue.Check) error {
	_, decision, err := n.bringUpToDate(ctx, c.StreamID, c.StreamID, nil, &c)
	attrs := []slog.Attr{slog.String("decision", string(decision)), slog.String("streamId", c.StreamID),
		slog.String("eventId", c.EventID), slog.String("occurredAt", eventstore.FormatTime(c.OccurredAt))}
	if errors.Is(err, ErrPublish) && n.Queue != nil {
		// What the check decided is kept in the state; a check again soon
		// sends it, rather than this message's return after the queue's
		// visibility timeout (minutes).
		if qerr := n.Queue.Enqueue(ctx, c, checkRetry); qerr == nil {
			attrs = append(attrs, slog.String("error", err.Error()), slog.String("checkAgainIn", checkRetry.String()))
			n.logger().LogAttrs(ctx, slog.LevelWarn, "disconnect check could not send what it decided; checking again", attrs...)
			return nil
		}
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	} else if n.Observer != nil {
		n.Observer.Checked(decision)
	}
	n.logger().LogAttrs(ctx, slog.LevelInfo, "disconnect check", attrs...)
	return err
}

func (n *Notifier) bringUpToDate(ctx context.Context, streamID, key string, rang []string, check *checkqueue.Check) ([]EventResult, CheckDecision, error) {
	token := newToken()
	for range maxConflicts {
		// What reached the webhook before this moment is in the log the
		// pass reads (a write takes a moment after its receive time: see
		// settleMargin).
		readAt := n.now()
		st, err := n.State.Load(ctx, streamID)
		if err != nil {
			return nil, "", fmt.Errorf("%w: %w", ErrState, err)
		}
		fresh, stragglers, err := n.readLog(ctx, key, &st)
		if err != nil {
			return nil, "", err
		}
		seen := slices.Clone(fresh)
		for _, l := range stragglers {
			seen = append(seen, l.rec)
		}
		lates, err := n.lates(ctx, key, &st, seen, rang)
		if err != nil {
			return nil, "", err
		}
		box := n.decodePending(ctx, &st)
		now := n.now()
		lates = append(lates, stragglers...)
		effects, results, decision := n.evaluate(&st, fresh, lates, check, readAt.Add(-n.settleMargin()))
		box.add(effects)
		took := len(box.Effects) > 0 && st.Lease != token && leaseFree(st, now)
		if took {
			st.Lease, st.LeaseUntil = token, eventstore.FormatTime(now.Add(leaseTerm(ctx, now)))
		}
		if len(fresh) == 0 && len(lates) == 0 && len(effects) == 0 && !took {
			n.report(ctx, results)
			return results, decision, nil
		}
		st.Pending = box.encode()
		n.remember(&st, readAt)
		switch err := n.State.Save(ctx, &st); {
		case errors.Is(err, streamstate.ErrConflict):
			continue
		case err != nil:
			return nil, "", fmt.Errorf("%w: %w", ErrState, err)
		}
		n.report(ctx, results)
		if st.Lease != token {
			// Another notifier is sending this stream's effects: it sends
			// these too, after its own, before it lets go.
			return results, decision, nil
		}
		return results, decision, n.drain(ctx, &st, box, token)
	}
	return nil, "", fmt.Errorf("%w: stream %s kept changing under %d attempts", ErrState, streamID, maxConflicts)
}

// readLog reads the stream's log after the applied position (fresh, in
// log order), and from a look-back before it the events not applied yet
// (stragglers: an event whose status did not move, that reached us after
// the log moved past it because another status's newer event came first).
// A pass applies both in the order they reached us, so a straggler that
// reached us before a fresh event is applied before it, whichever pass
// its own stream record rang.
//
// Only events that may not be applied yet are returned (logWindow): the
// cost of a pass is the stream's new events, not the look-back's.
func (n *Notifier) readLog(ctx context.Context, key string, st *streamstate.State) (fresh []eventstore.Record, stragglers []late, err error) {
	w := n.window(st)
	recs, err := n.Log.ReadLog(ctx, key, w.after, w.since)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: read the log of stream %s: %w", ErrState, key, err)
	}
	for _, r := range recs {
		switch {
		case r.OrderKey > st.Applied:
			fresh = append(fresh, r)
		case !st.WasApplied(r.EventID):
			l, err := n.withNext(ctx, key, r)
			if err != nil {
				return nil, nil, err
			}
			stragglers = append(stragglers, l)
		}
	}
	return fresh, stragglers, nil
}

// writeBound is how long after an event reached the webhook its write is
// in the log at the latest, as a pass counts on to find the events that
// raced with the ones it applies, with any difference between the
// webhook's clock and the notifier's: the webhook's own store budget is
// 10 s (its p99 is a small fraction of a second; Lambda's clocks are
// synchronised to the millisecond). An event whose write took longer is
// not lost: it is applied when its own stream record rings (lates), in
// that pass's order rather than in the order it reached us.
const writeBound = 15 * time.Second

// keepRecent is how many of the last applied events a state keeps however
// long ago they reached us: a stream record delivered again (a retried
// batch) for one of them costs no read. Few, because each is written with
// every state write (an older one is read and applied again, which changes
// nothing).
const keepRecent = 8

// logWindow is what a pass reads of a stream's log: the events after
// after (the applied position less the look-back) that reached us after
// since. Every event received before since was in the log when an earlier
// pass read it (writeBound), and was applied by that pass if it was after
// its look-back. since is the earlier pass's read less writeBound, or
// later when the state no longer remembers every event applied since
// then: an event the later since leaves out that was not applied is
// applied when its own stream record rings. Nothing read is lost: an
// event the state does not remember as applied is applied (again), which
// moves no status forward twice and counts no drop twice.
type logWindow struct{ after, since string }

func (n *Notifier) window(st *streamstate.State) logWindow {
	var w logWindow
	w.after = st.Applied
	if appliedAt, _, ok := strings.Cut(st.Applied, "/"); ok {
		w.after = eventstore.FormatTime(parseTime(appliedAt).Add(-n.lookBack()))
	}
	if st.ReadThrough == "" {
		return w // written before passes kept their read time: read it all
	}
	w.since = eventstore.FormatTime(parseTime(st.ReadThrough).Add(-writeBound))
	if oldest, full := st.RecentFull(); full && oldest > w.since {
		w.since = oldest
	}
	return w
}

// remember records on st, about to be written, when its pass read the log,
// and forgets the applied events no later pass needs to tell apart.
func (n *Notifier) remember(st *streamstate.State, readAt time.Time) {
	st.ReadThrough = eventstore.FormatTime(readAt)
	st.ForgetReceivedBefore(eventstore.FormatTime(readAt.Add(-writeBound)), keepRecent)
}

// lookBack is how far before the applied position a pass looks for events
// not applied yet: the flap window and the grace, beyond which a late event
// can change nothing but its own status.
func (n *Notifier) lookBack() time.Duration {
	return max(n.Rules.FlapWindow+n.Rules.Grace, time.Minute)
}

// withNext is r, with the stream's transition after it when r is a stream
// disconnect that reached us after the log moved past it: that transition
// decides whether it was a brief drop.
func (n *Notifier) withNext(ctx context.Context, key string, r eventstore.Record) (late, error) {
	l := late{rec: r}
	if e := describe(r); e.changesState && !e.change.Target && e.change.Transition && e.change.Status == alertrules.StatusDisconnected {
		after, err := n.Log.ReadLog(ctx, key, r.OrderKey, "")
		if err != nil {
			return late{}, fmt.Errorf("%w: read the log of stream %s: %w", ErrState, key, err)
		}
		l.next = nextTransition(after, r)
	}
	return l, nil
}

// lates are the events that rang for the stream but are neither in what
// the pass read nor among the recently applied: they reached us after the
// log had moved past them (an event of another status, or a newer one of
// theirs, was applied first), their write took longer than writeBound, or
// their record rang again long after they were applied (a retried batch:
// applying them again changes nothing). Each is read by its id.
func (n *Notifier) lates(ctx context.Context, key string, st *streamstate.State, fresh []eventstore.Record, rang []string) ([]late, error) {
	var out []late
	for _, id := range rang {
		if st.WasApplied(id) || containsEvent(fresh, id) || slices.ContainsFunc(out, func(l late) bool { return l.rec.EventID == id }) {
			continue
		}
		r, err := n.Log.GetEvent(ctx, key, id)
		switch {
		case errors.Is(err, eventstore.ErrNotFound):
			continue // expired meanwhile
		case err != nil:
			return nil, fmt.Errorf("%w: %w", ErrState, err)
		}
		l, err := n.withNext(ctx, key, r)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

func containsEvent(rs []eventstore.Record, id string) bool {
	for _, r := range rs {
		if r.EventID == id {
			return true
		}
	}
	return false
}

// drain sends the pending effects in order and removes them from the
// state, letting go of the lease; effects another notifier added meanwhile
// are sent too before it lets go.
func (n *Notifier) drain(ctx context.Context, st *streamstate.State, box pending, token string) error {
	sentThrough := int64(-1)
	for range maxConflicts {
		var sendErr error
		for _, e := range box.Effects {
			if err := n.sendEffect(ctx, st.StreamID, e); err != nil {
				if kept := n.keepAside(ctx, st.StreamID, e, err); !kept {
					sendErr = err
					break
				}
			}
			sentThrough = e.Seq
		}
		box = box.after(sentThrough)
		st.Pending = box.encode()
		st.Lease, st.LeaseUntil = "", ""
		err := n.State.Save(ctx, st)
		switch {
		case err == nil && sendErr != nil:
			return fmt.Errorf("%w: stream %s: %d kept for the retry: %w", ErrPublish, st.StreamID, len(box.Effects), sendErr)
		case err == nil:
			return nil
		case !errors.Is(err, streamstate.ErrConflict):
			return fmt.Errorf("%w: sent, but not recorded as sent (they may be sent again): %w", ErrState, err)
		}
		fresh, err := n.State.Load(ctx, st.StreamID)
		if err != nil {
			return fmt.Errorf("%w: sent, but not recorded as sent (they may be sent again): %w", ErrState, err)
		}
		*st = fresh
		if st.Lease != token {
			// Our lease ran out and another notifier took the effects over.
			return sendErr
		}
		// Others added effects meanwhile: send those too (and, after a
		// failed send, try once more) before letting go.
		box = n.decodePending(ctx, st).after(sentThrough)
	}
	return fmt.Errorf("%w: stream %s kept changing while its effects were sent", ErrState, st.StreamID)
}

// keepAside puts an effect SNS refused for good in the dead-letter queue,
// and says whether it did: then the stream's later effects go on.
func (n *Notifier) keepAside(ctx context.Context, streamID string, e Effect, err error) bool {
	code, permanent := alerts.Permanent(err)
	if !permanent || n.DeadLetters == nil || e.Check != nil {
		return false
	}
	text, jerr := json.Marshal(e)
	if jerr != nil {
		return false
	}
	m := deadletter.Message{StreamID: streamID, Reason: code + ": " + err.Error(), Effect: text}
	if kerr := n.DeadLetters.Keep(ctx, m); kerr != nil {
		n.logger().ErrorContext(ctx, "publish refused for good, and not kept aside; retried", "streamId", streamID, "error", err.Error(), "keep", kerr.Error())
		return false
	}
	n.logger().ErrorContext(ctx, "publish refused for good; kept in the dead-letter queue for redrive", "streamId", streamID,
		"topic", e.topic(), "reason", code, "error", err.Error())
	if n.Observer != nil {
		n.Observer.DeadLettered(e.topic())
	}
	return true
}

// topic is where the effect goes: the alert's topic, or "changes".
func (e Effect) topic() string {
	if e.Change != nil {
		return "changes"
	}
	return e.Topic
}

// Resend sends again an effect kept aside in the dead-letter queue
// (fastpixctl redrive, once the cause is fixed).
func (n *Notifier) Resend(ctx context.Context, m deadletter.Message) error {
	var e Effect
	if err := json.Unmarshal(m.Effect, &e); err != nil {
		return fmt.Errorf("notify: an undeliverable publish of stream %s that cannot be read: %w", m.StreamID, err)
	}
	if err := n.sendEffect(ctx, m.StreamID, e); err != nil {
		return fmt.Errorf("%w: stream %s: %w", ErrPublish, m.StreamID, err)
	}
	return nil
}

// sendEffect sends one effect.
func (n *Notifier) sendEffect(ctx context.Context, streamID string, e Effect) error {
	switch {
	case e.Alert != nil:
		if err := n.Publisher.Publish(ctx, e.Topic, alerts.Render(*e.Alert)); err != nil {
			return fmt.Errorf("%s alert of event %s: %w", orNone(string(e.Alert.Kind)), e.Alert.EventID, err)
		}
		if n.Observer != nil {
			n.Observer.Sent(e.Topic, parseTime(e.Alert.OccurredAt), n.now())
		}
		n.logger().LogAttrs(ctx, slog.LevelInfo, "alert sent", slog.String("streamId", streamID), slog.String("eventId", e.Alert.EventID),
			slog.String("alert", orNone(string(e.Alert.Kind))), slog.String("status", e.Alert.Status), slog.String("topic", e.Topic))
	case e.Change != nil:
		if n.Changes == nil {
			return nil
		}
		if err := n.Changes.Publish(ctx, *e.Change); err != nil {
			return fmt.Errorf("change of event %s: %w", e.Change.EventID, err)
		}
		if n.Observer != nil {
			n.Observer.ChangeSent()
		}
	case e.Check != nil:
		if n.Queue == nil {
			return nil
		}
		delay := min(max(e.Due.Add(n.settleMargin()).Sub(n.now()), 0), checkqueue.MaxDelay)
		if err := n.Queue.Enqueue(ctx, *e.Check, delay); err != nil {
			return fmt.Errorf("check of disconnect %s: %w", e.Check.EventID, err)
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "event"
	}
	return s
}

// pending is the encoding of a stream's pending effects (State.Pending).
// Next numbers them; it is kept when nothing is pending, so that numbers
// are never reused.
type pending struct {
	Next    int64    `json:"next"`
	Effects []Effect `json:"effects,omitempty"`
}

func (b *pending) add(es []Effect) {
	for _, e := range es {
		e.Seq = b.Next
		b.Next++
		b.Effects = append(b.Effects, e)
	}
}

// after is b without the effects numbered through seq.
func (b pending) after(seq int64) pending {
	out := pending{Next: b.Next}
	for _, e := range b.Effects {
		if e.Seq > seq {
			out.Effects = append(out.Effects, e)
		}
	}
	return out
}

func (b pending) encode() string {
	text, err := json.Marshal(b)
	if err != nil {
		// Effects are plain values: marshalling cannot fail.
		panic(fmt.Sprintf("notify: encode pending effects: %v", err))
	}
	return string(text)
}

// decodePending reads the stream's pending effects. What cannot be read
// (written by a later version, or damaged) is logged and dropped: holding
// the stream for it would stop all its alerts.
func (n *Notifier) decodePending(ctx context.Context, st *streamstate.State) pending {
	var b pending
	if st.Pending == "" {
		return b
	}
	if err := json.Unmarshal([]byte(st.Pending), &b); err != nil {
		n.logger().ErrorContext(ctx, "pending effects unreadable; dropped", "streamId", st.StreamID, "error", err.Error())
		return pending{}
	}
	return b
}

func leaseFree(st streamstate.State, now time.Time) bool {
	if st.Lease == "" {
		return true
	}
	until, err := time.Parse(time.RFC3339Nano, st.LeaseUntil)
	return err != nil || !now.Before(until)
}

// leaseTerm is how long a notifier keeps the lease: until its invocation's
// deadline, when a crashed one's effects are taken over.
func leaseTerm(ctx context.Context, now time.Time) time.Duration {
	if dl, ok := ctx.Deadline(); ok && dl.After(now) {
		return min(dl.Sub(now), 15*time.Minute)
	}
	return defaultLease
}

func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// report logs each event's result and tells the observer.
func (n *Notifier) report(ctx context.Context, results []EventResult) {
	for _, r := range results {
		if n.Observer != nil {
			n.Observer.Event(r)
		}
		attrs := []slog.Attr{
			slog.String("outcome", string(r.Outcome)),
			slog.String("eventId", r.EventID),
			slog.String("type", r.Type),
			slog.String("status", r.Status),
			slog.String("occurredAt", r.OccurredAt),
		}
		if r.StreamID != "" {
			attrs = append(attrs, slog.String("streamId", r.StreamID))
		}
		if r.SimulcastID != "" {
			attrs = append(attrs, slog.String("simulcastId", r.SimulcastID))
		}
		if r.StateUpdated && !r.Info {
			attrs = append(attrs, slog.String("previousStatus", r.Previous))
		}
		if len(r.Alerts) > 0 {
			kinds := make([]string, len(r.Alerts))
			for i, k := range r.Alerts {
				kinds[i] = string(k)
			}
			attrs = append(attrs, slog.String("alerts", strings.Join(kinds, ",")))
		}
		level, msg := slog.LevelInfo, "event applied"
		switch r.Outcome {
		case Suppressed:
			level, msg = slog.LevelWarn, "stale alert suppressed"
		case Untracked:
			level, msg = slog.LevelWarn, "simulcast target not tracked; no alert"
		case Unprocessable:
			level, msg = slog.LevelError, "event cannot be applied; passed over"
		}
		if r.ClockSkewed {
			attrs = append(attrs, slog.Bool("clockSkewed", true))
		}
		n.logger().LogAttrs(ctx, level, msg, attrs...)
	}
}

// Preview is what bringing the stream whose log key is key up to date
// would apply and send now: nothing is written and nothing is sent.
func (n *Notifier) Preview(ctx context.Context, key string) ([]EventResult, []Effect, error) {
	streamID, ok := eventstore.StreamOfLogKey(key)
	if !ok {
		return nil, nil, nil
	}
	st, err := n.State.Load(ctx, streamID)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	fresh, stragglers, err := n.readLog(ctx, key, &st)
	if err != nil {
		return nil, nil, err
	}
	box := n.decodePending(ctx, &st)
	effects, results, _ := n.evaluate(&st, fresh, stragglers, nil, n.now())
	return results, append(box.Effects, effects...), nil
}
