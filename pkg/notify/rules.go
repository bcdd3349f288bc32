package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/checkqueue"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// Rules turns on the alert rules of a stream's lifecycle (pkg/alertrules):
// a disconnect is held for the grace and alerted by a delayed check unless
// the stream comes back, a return after an alerted disconnect is a
// recovery, a flapping encoder is one unstable alert. The routes of
// video.live_stream.active and video.live_stream.disconnected then carry
// the rules' alerts (live and recovery; disconnected and unstable) in
// place of each such event's own.
type Rules struct {
	Settings alertrules.Settings
	// Store keeps the rules' memory in the stream state's item.
	Store streamstate.RulesStore
	// Queue delays the check of a held disconnect.
	Queue checkqueue.Enqueuer
}

// ErrEnqueue: the check of a held disconnect may not be queued; retry the
// record (the rules hold the disconnect again, and a check delivered twice
// alerts once).
var ErrEnqueue = errors.New("notify: disconnect check not queued")

// maxRuleAttempts bounds the decide-and-write rounds when the rules'
// memory keeps changing under a decision (deliveries racing on one stream).
const maxRuleAttempts = 5

// ruled says whether the rules decide r's alerts: a stream's own status
// transition that moved the state.
func (n *Notifier) ruled(res Result, e event) bool {
	return n.Rules != nil && res.StateUpdated && e.about && !e.change.Target && e.change.Transition
}

// replacedByRules: event types whose alerts the rules decide, so the event
// itself is not published.
func replacedByRules(eventType string) bool {
	return eventType == fastpix.TypeLiveStreamActive || eventType == fastpix.TypeLiveStreamDisconnected
}

// ruleTopic is where an alert of kind goes: the route of the event type it
// stands for.
func (n *Notifier) ruleTopic(kind alertrules.Kind) (string, bool) {
	switch kind {
	case alertrules.KindLive, alertrules.KindRecovery:
		return n.Routes.Topic(fastpix.TypeLiveStreamActive)
	}
	return n.Routes.Topic(fastpix.TypeLiveStreamDisconnected)
}

// lagWaits are the pauses while the memory has not heard of the transition
// this one replaced, which another processing is deciding at this moment
// (two events of one stream in batches processed at once): decisions are
// made in the events' order. When the wait runs out (that processing
// failed, or is slow), this one decides it first itself.
var lagWaits = []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond, 160 * time.Millisecond}

// decide applies the rules to r's transition and stores their memory. The
// first decision is made from the memory the state write gave back; if the
// memory changed since (a check, or another event of the stream), it is
// made again from the memory as it is then. The transition r replaced is
// decided first: by its own processing (this one waits for it, a few
// hundred milliseconds at most) or, failing that, here (alertrules.ApplyAll),
// whose alerts this one then sends; its own processing, finding the memory
// moved past it, sends nothing.
func (n *Notifier) decide(ctx context.Context, r eventstore.Record, tr streamstate.Transition) (alertrules.Decision, error) {
	at, err := time.Parse(time.RFC3339Nano, r.OccurredAt)
	if err != nil {
		return alertrules.Decision{}, fmt.Errorf("%w: event %s: occurredAt %q: %w", ErrUnprocessable, r.EventID, r.OccurredAt, err)
	}
	rt := alertrules.Transition{EventID: r.EventID, OccurredAt: at, Previous: tr.Previous, Status: tr.Current}
	// The transition this one replaced, in case the memory never heard of
	// it: the other event was processed at the same time, and this state
	// write came before its memory write, which then cannot be stored.
	var missed []alertrules.Transition
	if replacedAt, err := time.Parse(time.RFC3339Nano, tr.ReplacedAt); err == nil && tr.ReplacedEventID != "" {
		missed = append(missed, alertrules.Transition{EventID: tr.ReplacedEventID, OccurredAt: replacedAt, Status: tr.Previous})
	}
	rules := tr.Rules
	waited := 0
	for attempts := 0; attempts < maxRuleAttempts; {
		if waited < len(lagWaits) && n.lags(rules.Memory, missed) {
			select {
			case <-ctx.Done():
				return alertrules.Decision{}, fmt.Errorf("%w: event %s: %w", ErrState, r.EventID, ctx.Err())
			case <-time.After(lagWaits[waited]):
			}
			waited++
			if rules, err = n.Rules.Store.LoadRules(ctx, r.StreamID); err != nil {
				return alertrules.Decision{}, fmt.Errorf("%w: event %s: alert rules: %w", ErrState, r.EventID, err)
			}
			continue
		}
		attempts++
		d := alertrules.ApplyAll(rules.Memory, missed, rt, n.Rules.Settings, n.now())
		if !d.Changed {
			return d, nil
		}
		fresh, err := n.Rules.Store.SaveRules(ctx, r.StreamID, d.Memory, rules.Rev)
		switch {
		case err == nil:
			return d, nil
		case errors.Is(err, streamstate.ErrConflict):
			rules = fresh
		default:
			return d, fmt.Errorf("%w: event %s: alert rules: %w", ErrState, r.EventID, err)
		}
	}
	return alertrules.Decision{}, fmt.Errorf("%w: event %s: the alert rules' memory of stream %s kept changing", ErrState, r.EventID, r.StreamID)
}

// lags: the memory has not heard of the missed transition (nor of anything
// newer), and deciding it would change something: its own processing is
// about to store that.
func (n *Notifier) lags(m alertrules.Memory, missed []alertrules.Transition) bool {
	if len(missed) == 0 {
		return false
	}
	p := missed[0]
	if m.Last != nil && (m.Last.EventID == p.EventID || p.OccurredAt.Before(m.Last.OccurredAt)) {
		return false
	}
	d := alertrules.Apply(m, p, n.Rules.Settings, n.now())
	return d.Changed && !d.Stale
}

// applyRules decides r's lifecycle alerts, queues the check of a disconnect
// it holds and publishes what the rules say, setting res.
func (n *Notifier) applyRules(ctx context.Context, r eventstore.Record, res *Result) error {
	d, err := n.decide(ctx, r, res.Transition)
	if err != nil {
		return err
	}
	res.BriefDrop, res.Replay = d.BriefDrop, d.Replay
	if d.Hold != nil {
		c := checkOf(r, d.Hold.EventID, d.Hold.OccurredAt)
		if err := n.Rules.Queue.Enqueue(ctx, c, d.Hold.Delay); err != nil {
			return fmt.Errorf("%w: event %s: %w", ErrEnqueue, r.EventID, err)
		}
		res.HeldFor = d.Hold.Delay
	}
	base := alerts.FromRecord(r, res.Status)
	for _, a := range d.Alerts {
		topic, ok := n.ruleTopic(a.Kind)
		if !ok {
			continue
		}
		if r.Test && n.SkipTestEvents {
			res.Outcome = TestSkipped
			continue
		}
		alert := alerts.FromRule(base, a)
		if a.Kind == alertrules.KindLive || a.Kind == alertrules.KindRecovery {
			alert.SimulcastTargets = targetsOf(res.Transition.Targets)
		}
		if err := n.Publisher.Publish(ctx, topic, alerts.Render(alert)); err != nil {
			return fmt.Errorf("%w: event %s: %s alert: %w", ErrPublish, r.EventID, a.Kind, err)
		}
		res.Outcome, res.Topic, res.PublishedAt = Published, topic, n.now()
		res.Alerts = append(res.Alerts, a.Kind)
	}
	switch {
	case res.Outcome == Published || res.Outcome == TestSkipped:
	case d.Hold != nil:
		res.Outcome = Held
	case d.BriefDrop:
		res.Outcome = BriefDrop
	}
	return nil
}

// checkOf is the check message of a disconnect of r's stream.
func checkOf(r eventstore.Record, eventID string, occurredAt time.Time) checkqueue.Check {
	return checkqueue.Check{
		StreamID: r.StreamID, EventID: eventID, OccurredAt: occurredAt,
		WorkspaceID: r.WorkspaceID, WorkspaceName: r.WorkspaceName, Test: r.Test,
	}
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

// CheckResult is what a check decided, for the log and the tests.
type CheckResult struct {
	Reason alertrules.CheckReason
	// Topic is where the disconnect alert went (or would have gone).
	Topic string
	// Published: the alert left; Requeued: the check comes again later.
	Published, Requeued bool
}

// Check decides a held disconnect's check (checkqueue.Checker): it re-reads
// the stream's rules memory and alerts the disconnect when it is still held.
// The decision is stored before the publish, conditionally on the memory it
// was made from, so two deliveries of one check cannot both decide it; the
// publish is confirmed after, so a delivery after a failed publish sends it
// (at least once), and one after a confirmed publish sends nothing.
func (n *Notifier) Check(ctx context.Context, c checkqueue.Check) error {
	_, err := n.CheckOnce(ctx, c)
	return err
}

// CheckOnce is Check, saying what it decided.
func (n *Notifier) CheckOnce(ctx context.Context, c checkqueue.Check) (CheckResult, error) {
	if n.Rules == nil {
		return CheckResult{}, errors.New("notify: a disconnect check, but the alert rules are not configured")
	}
	rules, err := n.Rules.Store.LoadRules(ctx, c.StreamID)
	switch {
	case errors.Is(err, streamstate.ErrNotFound):
		res := CheckResult{Reason: alertrules.CheckNotHeld}
		n.logCheck(ctx, c, res)
		return res, nil
	case err != nil:
		return CheckResult{}, fmt.Errorf("%w: check of disconnect %s: %w", ErrState, c.EventID, err)
	}
	conflicted := false
	for range maxRuleAttempts {
		d := alertrules.DecideCheck(rules.Memory, c.EventID, n.Rules.Settings, n.now())
		res := CheckResult{Reason: d.Reason}
		switch {
		case d.Reason == alertrules.CheckEarly:
			if err := n.Rules.Queue.Enqueue(ctx, c, d.Requeue); err != nil {
				return res, fmt.Errorf("%w: check of disconnect %s again: %w", ErrEnqueue, c.EventID, err)
			}
			res.Requeued = true
			n.logCheck(ctx, c, res)
			return res, nil
		case d.Reason == alertrules.CheckResent && conflicted:
			// Another delivery of this check decided it a moment ago and is
			// publishing it; if it fails, its message comes back.
			res.Reason = alertrules.CheckAlreadyAlerted
			n.logCheck(ctx, c, res)
			return res, nil
		}
		if d.Changed {
			saved, err := n.Rules.Store.SaveRules(ctx, c.StreamID, d.Memory, rules.Rev)
			switch {
			case errors.Is(err, streamstate.ErrConflict):
				rules, conflicted = saved, true
				continue
			case err != nil:
				return res, fmt.Errorf("%w: check of disconnect %s: %w", ErrState, c.EventID, err)
			}
			rules = saved
		}
		if d.Alert == nil {
			n.logCheck(ctx, c, res)
			return res, nil
		}
		topic, routed := n.ruleTopic(alertrules.KindDisconnected)
		res.Topic = topic
		if routed && !(c.Test && n.SkipTestEvents) {
			base := alerts.Alert{StreamID: c.StreamID, WorkspaceID: c.WorkspaceID, WorkspaceName: c.WorkspaceName, Test: c.Test}
			if err := n.Publisher.Publish(ctx, topic, alerts.Render(alerts.FromRule(base, *d.Alert))); err != nil {
				return res, fmt.Errorf("%w: disconnect %s of stream %s: %w", ErrPublish, c.EventID, c.StreamID, err)
			}
			res.Published = true
		}
		n.confirm(ctx, c, rules)
		n.logCheck(ctx, c, res)
		return res, nil
	}
	return CheckResult{}, fmt.Errorf("%w: check of disconnect %s: the alert rules' memory of stream %s kept changing", ErrState, c.EventID, c.StreamID)
}

// confirm records that the disconnect alert left. When it cannot be
// recorded, the alert may be sent again (by a redelivered check, or with
// the recovery): logged, not failed, since failing would send it again for
// sure.
func (n *Notifier) confirm(ctx context.Context, c checkqueue.Check, rules streamstate.Rules) {
	for range maxRuleAttempts {
		m, changed := alertrules.Confirm(rules.Memory, c.EventID)
		if !changed {
			return
		}
		fresh, err := n.Rules.Store.SaveRules(ctx, c.StreamID, m, rules.Rev)
		switch {
		case err == nil:
			return
		case errors.Is(err, streamstate.ErrConflict):
			rules = fresh
		default:
			n.logger().WarnContext(ctx, "disconnect alert sent but not recorded as sent; it may be sent again",
				"streamId", c.StreamID, "eventId", c.EventID, "error", err.Error())
			return
		}
	}
}

func (n *Notifier) logCheck(ctx context.Context, c checkqueue.Check, res CheckResult) {
	attrs := []slog.Attr{
		slog.String("decision", string(res.Reason)),
		slog.String("streamId", c.StreamID),
		slog.String("eventId", c.EventID),
		slog.String("occurredAt", eventstore.FormatTime(c.OccurredAt)),
		slog.Bool("published", res.Published),
	}
	if res.Topic != "" {
		attrs = append(attrs, slog.String("topic", res.Topic))
	}
	n.logger().LogAttrs(ctx, slog.LevelInfo, "disconnect check", attrs...)
}
