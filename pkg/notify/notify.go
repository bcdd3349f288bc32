// Package notify decides what one stored event means for its stream: it
// moves the stream's state forward and, when the event is a notable
// transition that is not stale, publishes its alert.
//
// It works on eventstore.Record, not on a stream record, so the DynamoDB
// stream adapter and an operator's replay tool drive the same code. What an
// event means (which stream or target it is about, whether it moves a
// status, which one) is the FastPix model's rule (fastpix.ChangeOf), read
// from the stored payload, parsed once per record.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/changefeed"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// Outcome says what became of one record of the events table's stream. It
// is the one list of outcomes: the notifier sets the first ones, the stream
// adapter the last three; logs, the batch summary and metrics (each outcome
// has its metric, pkg/metrics) use these names.
type Outcome string

const (
	// Published: notable, newer than the state, and sent to its topic.
	Published Outcome = "published"
	// Suppressed: notable but stale (older than the stream's or target's
	// state): not sent, because "stream is live" after it disconnected
	// misleads.
	Suppressed Outcome = "suppressed"
	// TestSkipped: notable, about a test stream, and test events are not
	// published (SkipTestEvents).
	TestSkipped Outcome = "test_skipped"
	// Recorded: not notable; the state was moved forward (or the event has
	// no state to move).
	Recorded Outcome = "recorded"
	// Stale: not notable and older than the state; nothing changed.
	Stale Outcome = "stale"
	// Untracked: about a simulcast target the state cannot follow (the
	// event names no target, or the stream already tracks
	// streamstate.MaxSimulcastTargets others): nothing in the state, and no
	// alert, since nothing can tell whether it is stale. The event stays in
	// the events table.
	Untracked Outcome = "untracked"
	// Held: a disconnect held for the grace (Rules): its check is queued,
	// nothing is sent now.
	Held Outcome = "held"
	// BriefDrop: a reconnection within the grace of a held disconnect
	// (Rules): nothing is sent, the drop is counted.
	BriefDrop Outcome = "brief_drop"
	// Unprocessable: the record can never be processed (the state store
	// refused the update as invalid): logged, counted and skipped, never
	// retried. Process returns it with an error wrapping ErrUnprocessable.
	Unprocessable Outcome = "unprocessable"

	// Failed: processing failed for a reason a retry can cure; the record
	// and those after it are retried (stream adapter).
	Failed Outcome = "failed"
	// Unreadable: the stream record is not a stored event (stream adapter).
	Unreadable Outcome = "unreadable"
	// Ignored: not an INSERT (a TTL expiry), not an event (stream adapter).
	Ignored Outcome = "ignored"
)

// Outcomes lists every Outcome, in the batch summary's order.
func Outcomes() []Outcome {
	return []Outcome{Published, Suppressed, TestSkipped, Recorded, Stale, Untracked, Held, BriefDrop, Unprocessable, Failed, Unreadable, Ignored}
}

// Errors of Process. ErrState and ErrPublish mean "retry this record": the
// state update and the publish are safe to repeat. ErrUnprocessable means
// no retry can help.
var (
	// ErrState: the stream state could not be updated.
	ErrState = errors.New("notify: stream state not updated")
	// ErrPublish: the alert, or the change feed's message, may not have
	// been published.
	ErrPublish = errors.New("notify: alert or change not published")
	// ErrUnprocessable: the record can never be processed; skip it.
	ErrUnprocessable = errors.New("notify: record cannot be processed")
)

// DefaultClockSkewTolerance is how far ahead of our receive time FastPix's
// createdAt is trusted when nothing else is set.
const DefaultClockSkewTolerance = 60 * time.Second

// Result describes a processed record.
type Result struct {
	Outcome Outcome
	// Status is the stream's (or simulcast target's) status the event sets,
	// or for other events the status its payload reports.
	Status string
	// Info: the event is about a stream but is not a status transition.
	Info bool
	// Topic is the ARN the alert went to, or would have gone to.
	Topic string
	// StateUpdated: the event moved its stream's (or target's) state
	// forward (false when stale, or when it concerns no state).
	StateUpdated bool
	// Transition is what the state update replaced (StateUpdated only): the
	// previous and the new status of the stream or target.
	Transition streamstate.Transition
	// ChangePublished: the change feed was sent this status change.
	ChangePublished bool
	// OccurredAt is the time the event was ordered by: its createdAt, or
	// our receive time when createdAt was too far ahead (ClockSkewed).
	OccurredAt string
	// ClockSkewed: createdAt was further ahead of the receive time than the
	// tolerance, and the receive time was used instead.
	ClockSkewed bool
	// PublishedAt is when SNS accepted the alert (Published only): minus
	// OccurredAt, it is the alert's end-to-end delay.
	PublishedAt time.Time
	// Alerts are the kinds of the rules' alerts published (Rules).
	Alerts []alertrules.Kind
	// HeldFor is the delay of the check queued for a held disconnect.
	HeldFor time.Duration
	// BriefDrop: a reconnection within the grace; Replay: the rules had
	// already decided this event (a retried record) and decided the same.
	BriefDrop, Replay bool
}

// Notifier processes stored events. State, Publisher and Routes are
// required.
type Notifier struct {
	State     streamstate.Applier
	Publisher alerts.Publisher
	Routes    alerts.Routes
	// SkipTestEvents stops alerts about test streams (data.test true). The
	// zero value publishes them, with the attribute test=true, so
	// subscribers can filter them.
	SkipTestEvents bool
	// ClockSkewTolerance is how far ahead of the receive time an event's
	// createdAt is trusted (DefaultClockSkewTolerance when zero). An event
	// beyond it is ordered by its receive time: one sender's clock in the
	// future must not make every later event of the stream stale.
	ClockSkewTolerance time.Duration
	// Changes receives every change applied to a stream's or a simulcast
	// target's status, notable or not, test streams included (subscribers
	// filter on the test attribute); nil publishes none.
	Changes changefeed.Publisher
	// Rules, when set, decides the alerts of a stream's lifecycle by the
	// alert rules (held disconnects, recoveries, unstable encoders); nil
	// alerts every routed event as it comes.
	Rules *Rules
	// Logger gets one line per record (slog.Default() when nil).
	Logger *slog.Logger
	// Now is the clock of PublishedAt (time.Now when nil).
	Now func() time.Time
}

func (n *Notifier) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

func (n *Notifier) logger() *slog.Logger {
	if n.Logger != nil {
		return n.Logger
	}
	return slog.Default()
}

// event is a record read once: what it is about and what it changes.
type event struct {
	streamID, simulcastID string
	change                fastpix.Change
	// about: the event concerns a stream's state.
	about bool
	// payloadStatus is the payload's status; rawCreatedAt its createdAt as
	// sent, createdAtRead whether it could be read.
	payloadStatus string
	rawCreatedAt  string
	createdAtRead bool
}

// describe parses r's payload once. The stored record's stream and target
// are used as the webhook found them; an older record without them gets
// the FastPix model's fallbacks from the payload.
func describe(r eventstore.Record) event {
	e := event{streamID: r.StreamID, simulcastID: r.SimulcastID}
	if ev, err := fastpix.Parse([]byte(r.Payload)); err == nil {
		e.payloadStatus = ev.Status
		e.rawCreatedAt = ev.RawCreatedAt
		e.createdAtRead = !ev.CreatedAt.IsZero()
		if e.streamID == "" {
			e.streamID = ev.StreamID
		}
		if e.simulcastID == "" {
			e.simulcastID = ev.SimulcastID
		}
	}
	e.change, e.about = fastpix.ChangeOf(r.Type, e.payloadStatus)
	e.about = e.about && e.streamID != ""
	return e
}

// status is the status shown for the event: a transition's, else the
// payload's, else the action.
func (e event) status(eventType string) string {
	switch {
	case e.change.Transition:
		return e.change.Status
	case e.payloadStatus != "":
		return e.payloadStatus
	}
	return fastpix.Action(eventType)
}

// Status is the status r gives its stream, or its simulcast target (the
// transition's), or for an event that is not a transition the payload's
// status, else its action.
func Status(r eventstore.Record) string { return describe(r).status(r.Type) }

func (n *Notifier) tolerance() time.Duration {
	if n.ClockSkewTolerance > 0 {
		return n.ClockSkewTolerance
	}
	return DefaultClockSkewTolerance
}

// orderTime is the time r is ordered by: its occurredAt (FastPix's
// createdAt), unless that is more than the tolerance ahead of the time the
// webhook received it; then the receive time.
func (n *Notifier) orderTime(r eventstore.Record) (string, bool) {
	occurred, err1 := time.Parse(time.RFC3339Nano, r.OccurredAt)
	received, err2 := time.Parse(time.RFC3339Nano, r.ReceivedAt)
	if err1 != nil || err2 != nil {
		return r.OccurredAt, false
	}
	if occurred.Sub(received) > n.tolerance() {
		return r.ReceivedAt, true
	}
	return r.OccurredAt, false
}

// Process applies r to its stream's state, then publishes r's alert when r
// is routed and not stale. It makes at most one state update (two for the
// first simulcast target of a stream with no state yet) and one publish.
//
// Processing the same record again re-applies it (harmless) and publishes
// again: a caller retries a record only when Process failed with ErrState
// or ErrPublish, which gives at-least-once delivery of alerts. A record
// failing with ErrUnprocessable must be skipped, never retried.
func (n *Notifier) Process(ctx context.Context, r eventstore.Record) (Result, error) {
	e := describe(r)
	res := Result{Status: e.status(r.Type), Info: e.about && !e.change.Transition}
	res.OccurredAt, res.ClockSkewed = n.orderTime(r)
	if res.ClockSkewed {
		n.logger().LogAttrs(ctx, slog.LevelWarn, "createdAt ahead of the receive time; ordered by the receive time",
			slog.String("eventId", r.EventID), slog.String("createdAt", e.rawCreatedAt),
			slog.String("occurredAt", r.OccurredAt), slog.String("receivedAt", r.ReceivedAt),
			slog.String("tolerance", n.tolerance().String()))
	} else if !e.createdAtRead && r.OccurredAt != "" && r.OccurredAt == r.ReceivedAt {
		n.logger().LogAttrs(ctx, slog.LevelWarn, "createdAt missing or unreadable; ordered by the receive time",
			slog.String("eventId", r.EventID), slog.String("createdAt", e.rawCreatedAt), slog.String("receivedAt", r.ReceivedAt))
	}
	ordered := r
	ordered.OccurredAt = res.OccurredAt
	ordered.StreamID, ordered.SimulcastID = e.streamID, e.simulcastID

	stale, untracked := false, false
	switch {
	case e.about && e.change.Target && e.simulcastID == "":
		// A target event that names no target: nothing can tell whether it
		// is stale.
		untracked = true
	case e.about && e.change.Target && !e.change.Transition:
		// A target keeps no detail: nothing to change.
	case e.about:
		u := streamstate.Update{
			StreamID:   e.streamID,
			Info:       !e.change.Transition,
			Status:     e.change.Status,
			Rank:       e.change.Rank,
			Delete:     e.change.Target && e.change.IsDeletion(),
			EventID:    r.EventID,
			EventType:  r.Type,
			OccurredAt: res.OccurredAt,
		}
		if !e.change.Target {
			u.WorkspaceID = r.WorkspaceID
		}
		if e.change.Target {
			u.SimulcastID = e.simulcastID
		}
		tr, err := n.State.Apply(ctx, u)
		switch {
		case err == nil:
			res.StateUpdated, res.Transition = true, tr
		case errors.Is(err, streamstate.ErrStale):
			stale = true
		case errors.Is(err, streamstate.ErrTooManyTargets):
			untracked = true
		case errors.Is(err, streamstate.ErrUnprocessable):
			res.Outcome = Unprocessable
			err = fmt.Errorf("%w: event %s: %w", ErrUnprocessable, r.EventID, err)
			n.log(ctx, ordered, res, slog.String("error", err.Error()))
			return res, err
		default:
			return res, fmt.Errorf("%w: event %s: %w", ErrState, r.EventID, err)
		}
	}
	if err := n.publishChange(ctx, ordered, res); err != nil {
		return res, err
	}
	res.ChangePublished = n.Changes != nil && isChange(ordered, res)
	ruled := n.ruled(res, e)
	topic, notable := n.Routes.Topic(r.Type)
	if ruled && replacedByRules(r.Type) {
		topic, notable = "", false
	}
	res.Topic = topic
	switch {
	case untracked:
		res.Outcome = Untracked
	case !notable && stale:
		res.Outcome = Stale
	case !notable:
		res.Outcome = Recorded
	case stale:
		res.Outcome = Suppressed
	case r.Test && n.SkipTestEvents:
		res.Outcome = TestSkipped
	default:
		msg := alerts.Render(alerts.FromRecord(ordered, res.Status))
		if err := n.Publisher.Publish(ctx, topic, msg); err != nil {
			return res, fmt.Errorf("%w: event %s: %w", ErrPublish, r.EventID, err)
		}
		res.Outcome = Published
		res.PublishedAt = n.now()
	}
	if ruled {
		if err := n.applyRules(ctx, ordered, &res); err != nil {
			if errors.Is(err, ErrUnprocessable) {
				res.Outcome = Unprocessable
				n.log(ctx, ordered, res, slog.String("error", err.Error()))
			}
			return res, err
		}
	}
	n.log(ctx, ordered, res)
	return res, nil
}

// isChange: the record changed a stream's or a target's status, or is one
// that did, processed again (its first publish may have failed). A
// transition to the status already held changes nothing. A target's
// repeated transition is told again: its entry does not keep what the
// first processing replaced.
func isChange(r eventstore.Record, res Result) bool {
	tr := res.Transition
	if !res.StateUpdated || res.Info || tr.Current == "" {
		return false
	}
	if tr.Repeated && fastpix.IsSimulcast(r.Type) {
		return true
	}
	return tr.Previous != tr.Current
}

// publishChange sends the change feed r's change, before any alert: when
// the alert fails after it, the retry sends the change again, which a
// subscriber keeping the newest occurredAt ignores, rather than a person
// getting an alert twice.
func (n *Notifier) publishChange(ctx context.Context, r eventstore.Record, res Result) error {
	if n.Changes == nil || !isChange(r, res) {
		return nil
	}
	c := changefeed.Change{
		StreamID:       r.StreamID,
		WorkspaceID:    r.WorkspaceID,
		WorkspaceName:  r.WorkspaceName,
		PreviousStatus: res.Transition.Previous,
		Status:         res.Transition.Current,
		EventID:        r.EventID,
		EventType:      r.Type,
		OccurredAt:     r.OccurredAt,
		Test:           r.Test,
	}
	if fastpix.IsSimulcast(r.Type) {
		c.SimulcastTargetID = r.SimulcastID
		if res.Transition.Repeated {
			// What the first processing replaced is no longer known.
			c.PreviousStatus = ""
		}
	}
	if err := n.Changes.Publish(ctx, c); err != nil {
		return fmt.Errorf("%w: change of event %s: %w", ErrPublish, r.EventID, err)
	}
	return nil
}

func (n *Notifier) log(ctx context.Context, r eventstore.Record, res Result, extra ...slog.Attr) {
	attrs := []slog.Attr{
		slog.String("outcome", string(res.Outcome)),
		slog.String("eventId", r.EventID),
		slog.String("type", r.Type),
		slog.String("status", res.Status),
		slog.String("occurredAt", r.OccurredAt),
	}
	if r.StreamID != "" {
		attrs = append(attrs, slog.String("streamId", r.StreamID))
	}
	if r.SimulcastID != "" {
		attrs = append(attrs, slog.String("simulcastId", r.SimulcastID))
	}
	if res.Topic != "" {
		attrs = append(attrs, slog.String("topic", res.Topic))
	}
	if res.StateUpdated && !res.Info {
		attrs = append(attrs, slog.String("previousStatus", res.Transition.Previous))
	}
	if len(res.Alerts) > 0 {
		kinds := make([]string, len(res.Alerts))
		for i, k := range res.Alerts {
			kinds[i] = string(k)
		}
		attrs = append(attrs, slog.String("alerts", strings.Join(kinds, ",")))
	}
	if res.HeldFor > 0 {
		attrs = append(attrs, slog.String("checkIn", res.HeldFor.String()))
	}
	if res.BriefDrop {
		attrs = append(attrs, slog.Bool("briefDrop", true))
	}
	attrs = append(attrs, extra...)
	level, msg := slog.LevelInfo, "event processed"
	switch res.Outcome {
	case Suppressed:
		level, msg = slog.LevelWarn, "stale alert suppressed"
	case Untracked:
		level, msg = slog.LevelWarn, "simulcast target not tracked; no alert"
	case Unprocessable:
		level, msg = slog.LevelError, "record cannot be processed; skipped"
	}
	n.logger().LogAttrs(ctx, level, msg, attrs...)
}
