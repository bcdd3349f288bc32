// Package notify decides what one stored event means for its stream: it
// moves the stream's state forward and, when the event is a notable
// transition that is not stale, publishes its alert.
//
// It works on eventstore.Record, not on a stream record, so the DynamoDB
// stream adapter and an operator's replay tool drive the same code.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// Outcome says what became of a record that did not fail.
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
)

// Errors of Process. Both mean "retry this record": the state update and
// the publish are safe to repeat.
var (
	// ErrState: the stream state could not be updated.
	ErrState = errors.New("notify: stream state not updated")
	// ErrPublish: the alert may not have been published.
	ErrPublish = errors.New("notify: alert not published")
)

// Result describes a processed record.
type Result struct {
	Outcome Outcome
	// Status is the stream's (or simulcast target's) status the event sets.
	Status string
	// Topic is the ARN the alert went to, or would have gone to.
	Topic string
	// StateUpdated: the event moved its stream's (or target's) state
	// forward (false when stale, or when it concerns no state).
	StateUpdated bool
	// PublishedAt is when SNS accepted the alert (Published only): minus
	// the event's occurredAt, it is the alert's end-to-end delay.
	PublishedAt time.Time
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

// lifecycleActions are the live stream events whose action is itself the
// new status: the event says what happened, while the payload's status may
// lag behind it.
var lifecycleActions = map[string]bool{
	"preparing": true, "connected": true, "active": true, "disconnected": true,
	"idle": true, "disabled": true, "deleted": true,
}

// Status is the status r gives its stream, or its simulcast target: the
// action for lifecycle and simulcast events, else the (redacted) payload's
// status, else the action.
func Status(r eventstore.Record) string {
	action := fastpix.Action(r.Type)
	if fastpix.IsSimulcast(r.Type) || lifecycleActions[action] {
		return action
	}
	if ev, err := fastpix.Parse([]byte(r.Payload)); err == nil && ev.Status != "" {
		return ev.Status
	}
	return action
}

// StateUpdate is the state change r makes, and false when r changes no
// stream state: events about no stream, media events (recordings, clips),
// and simulcast events that name no target.
func StateUpdate(r eventstore.Record) (streamstate.Update, bool) {
	if r.StreamID == "" || !strings.HasPrefix(r.Type, "video.live_stream.") {
		return streamstate.Update{}, false
	}
	if fastpix.IsSimulcast(r.Type) && r.SimulcastID == "" {
		return streamstate.Update{}, false
	}
	u := streamstate.Update{
		StreamID:   r.StreamID,
		Status:     Status(r),
		EventID:    r.EventID,
		EventType:  r.Type,
		OccurredAt: r.OccurredAt,
	}
	if fastpix.IsSimulcast(r.Type) {
		u.SimulcastID = r.SimulcastID
	}
	return u, true
}

// Process applies r to its stream's state, then publishes r's alert when r
// is routed and not stale. It makes at most one state update (two for the
// first simulcast target of a stream with no state yet) and one publish.
//
// Processing the same record again re-applies it (harmless) and publishes
// again: a caller retries a record only when Process failed, which gives
// at-least-once delivery of alerts.
func (n *Notifier) Process(ctx context.Context, r eventstore.Record) (Result, error) {
	res := Result{Status: Status(r)}
	stale := false
	if u, ok := StateUpdate(r); ok {
		switch err := n.State.Apply(ctx, u); {
		case err == nil:
			res.StateUpdated = true
		case errors.Is(err, streamstate.ErrStale):
			stale = true
		default:
			return res, fmt.Errorf("%w: event %s: %w", ErrState, r.EventID, err)
		}
	}
	topic, notable := n.Routes.Topic(r.Type)
	res.Topic = topic
	switch {
	case !notable && stale:
		res.Outcome = Stale
	case !notable:
		res.Outcome = Recorded
	case stale:
		res.Outcome = Suppressed
	case r.Test && n.SkipTestEvents:
		res.Outcome = TestSkipped
	default:
		msg := alerts.Render(alerts.FromRecord(r, res.Status))
		if err := n.Publisher.Publish(ctx, topic, msg); err != nil {
			return res, fmt.Errorf("%w: event %s: %w", ErrPublish, r.EventID, err)
		}
		res.Outcome = Published
		res.PublishedAt = n.now()
	}
	n.log(ctx, r, res)
	return res, nil
}

func (n *Notifier) log(ctx context.Context, r eventstore.Record, res Result) {
	log := n.Logger
	if log == nil {
		log = slog.Default()
	}
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
	level, msg := slog.LevelInfo, "event processed"
	if res.Outcome == Suppressed {
		level, msg = slog.LevelWarn, "stale alert suppressed"
	}
	log.LogAttrs(ctx, level, msg, attrs...)
}
