package notifier

import (
	"errors"
	"strings"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/checkqueue"
	"github.com/streamhook/fastpix-receiver/pkg/ddbstream"
	"github.com/streamhook/fastpix-receiver/pkg/metrics"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
)

// Metric names of the notifier function. The template's dashboard and
// alarms use the same names.
const (
	Published         = "Published"       // alerts sent, by Topic (the topic's name)
	SuppressedStale   = "SuppressedStale" // notable events not sent because a newer state exists
	TestSkipped       = "TestSkipped"     // alerts about test streams not sent (PUBLISH_TEST_EVENTS=false)
	PublishFailures   = "PublishFailures" // records whose alert may not have left (SNS error): retried
	StateUpdates      = "StateUpdates"    // events that moved a stream's (or target's) state forward
	StateFailures     = "StateFailures"   // records whose state update failed (DynamoDB error): retried
	UnreadableRecords = "UnreadableRecords"
	EventsRecorded    = "EventsRecorded" // events that alert no one, applied (or about no state)
	StaleEvents       = "StaleEvents"    // events that alert no one, older than the state
	// UntrackedSimulcastEvents counts simulcast events the state cannot follow (no target
	// id, or a new target beyond streamstate.MaxSimulcastTargets): kept in
	// the events table, never alerted.
	UntrackedSimulcastEvents = "UntrackedSimulcastEvents"
	// UnprocessableRecords counts records skipped because no retry could process
	// them (the state store refused the update as invalid). Each is logged
	// as "record cannot be processed; skipped" with its event id.
	UnprocessableRecords = "UnprocessableRecords"
	// IgnoredRecords counts stream records that are not events (not INSERTs).
	IgnoredRecords = "IgnoredRecords"
	// ClockSkewed counts events whose createdAt was further ahead of our
	// receive time than the tolerance, ordered by the receive time instead.
	ClockSkewed = "ClockSkewed"
	// ChangesPublished counts the status changes sent to the change feed
	// (StreamChangesTopic): with StateUpdates beside it, it says the feed
	// flows.
	ChangesPublished = "ChangesPublished"
	// AlertDelay is publish time minus the event's occurredAt (FastPix's
	// createdAt), ms: FastPix's delivery, the webhook, the stream and the
	// notifier together.
	AlertDelay = "AlertDelay"
	// StreamsWentLive and StreamsDisconnected count streams whose state the
	// notifier moved to active, or to disconnected. Their difference over a
	// few hours says whether streams are live now: the silence alarm uses it.
	StreamsWentLive     = "StreamsWentLive"
	StreamsDisconnected = "StreamsDisconnected"
	// BatchFailures is 1 for a batch that reported a failed record (Lambda
	// retries it; after the retries it lands in the dead-letter queue), 0
	// otherwise. RecordsRetried counts the records reported.
	BatchFailures  = "BatchFailures"
	RecordsRetried = "RecordsRetried"
	// DisconnectsHeld counts disconnects held for the grace (their check
	// queued); BriefDrops the reconnections within it, which sent nothing.
	DisconnectsHeld = "DisconnectsHeld"
	BriefDrops      = "BriefDrops"
	// CheckQueueFailures counts records whose held disconnect's check could
	// not be queued (SQS error): retried.
	CheckQueueFailures = "CheckQueueFailures"
	// ChecksAlerted, ChecksBack and ChecksEarly count the held disconnects'
	// checks by what they found: the drop alerted, the stream back within
	// the grace (nothing sent), the grace not over yet (checked again).
	ChecksAlerted = "ChecksAlerted"
	ChecksBack    = "ChecksBack"
	ChecksEarly   = "ChecksEarly"
	// DeadLettered counts alerts and changes SNS refused for good
	// (authorization, no such topic, invalid parameter), kept in the
	// notifier's dead-letter queue for redrive instead of retried.
	DeadLettered = "DeadLettered"
)

// Failure kinds of a stream not brought up to date (record.failure).
const (
	failureState   = "state"
	failurePublish = "publish"
	failureQueue   = "queue"
)

// outcomeMetrics names the metric that counts each outcome; notify.Failed
// is counted by failureMetrics, by its kind. A test checks that every
// notify.Outcome is counted.
var outcomeMetrics = map[notify.Outcome]string{
	notify.Published:     Published,
	notify.Suppressed:    SuppressedStale,
	notify.TestSkipped:   TestSkipped,
	notify.Recorded:      EventsRecorded,
	notify.Stale:         StaleEvents,
	notify.Untracked:     UntrackedSimulcastEvents,
	notify.Held:          DisconnectsHeld,
	notify.BriefDrop:     BriefDrops,
	notify.Unprocessable: UnprocessableRecords,
	notify.Unreadable:    UnreadableRecords,
	notify.Ignored:       IgnoredRecords,
}

var failureMetrics = map[string]string{
	failurePublish: PublishFailures,
	failureState:   StateFailures,
	failureQueue:   CheckQueueFailures,
}

// record is what became of one event or stream record in the notifier: one
// metric line.
type record struct {
	// Outcome is what became of the record.
	Outcome   notify.Outcome
	EventType string
	// Topic is the ARN the alert went to, when published.
	Topic string
	// Status is the status the event gives its stream or target.
	Status string
	// Simulcast: the event is about a simulcast target, not the stream.
	Simulcast bool
	// StateUpdated: the event moved the state forward.
	StateUpdated bool
	// Info: the event is about a stream but is not a status transition (it
	// does not count as the stream going live or disconnecting).
	Info bool
	// ClockSkewed: createdAt was beyond the tolerance ahead of the receive
	// time, and the event was ordered by the receive time.
	ClockSkewed bool
	// ChangePublished: the record's status change went to the change feed.
	ChangePublished bool
	// Failure is failureState, failurePublish or failureQueue when Outcome
	// is "failed".
	Failure string
	// OccurredAt and PublishedAt give the alert delay (both set when
	// published).
	OccurredAt, PublishedAt time.Time
}

// metricsObserver turns what the notifier and its stream adapter do into
// metrics. It lives with the wiring, so that pkg/metrics (the format)
// knows nothing of the domain, and neither pkg/notify nor pkg/ddbstream
// knows metrics.
type metricsObserver struct {
	e *metrics.Emitter
}

var (
	_ notify.Observer    = metricsObserver{}
	_ ddbstream.Observer = metricsObserver{}
)

// observe writes one line for r, with the Topic dimension when an alert
// was published.
func (n metricsObserver) observe(r record) {
	var ms []metrics.Metric
	count := func(name string) { ms = append(ms, metrics.Metric{Name: name, Unit: metrics.Count, Value: 1}) }
	var dims map[string]string
	switch r.Outcome {
	case notify.Published:
		dims = map[string]string{"Topic": topicName(r.Topic)}
		count(Published)
		if !r.OccurredAt.IsZero() && !r.PublishedAt.IsZero() {
			d := r.PublishedAt.Sub(r.OccurredAt)
			if d < 0 { // FastPix's clock ahead of ours
				d = 0
			}
			ms = append(ms, metrics.Metric{Name: AlertDelay, Unit: metrics.Milliseconds, Value: float64(d.Microseconds()) / 1000})
		}
	case notify.Failed:
		if name, ok := failureMetrics[r.Failure]; ok {
			count(name)
		}
	default:
		if name, ok := outcomeMetrics[r.Outcome]; ok {
			count(name)
		}
	}
	if r.ClockSkewed {
		count(ClockSkewed)
	}
	if r.ChangePublished {
		count(ChangesPublished)
	}
	if r.StateUpdated {
		count(StateUpdates)
		if !r.Simulcast && !r.Info {
			switch r.Status {
			case "active":
				count(StreamsWentLive)
			case "disconnected":
				count(StreamsDisconnected)
			}
		}
	}
	props := map[string]any{"outcome": string(r.Outcome)}
	if r.EventType != "" {
		props["eventType"] = r.EventType
	}
	n.e.Emit(dims, props, ms...)
}

// Batch records the end of one batch of stream records, of which retried
// were reported failed.
func (n metricsObserver) Batch(records, retried int) {
	failed := 0.0
	if retried > 0 {
		failed = 1
	}
	n.e.Emit(nil, map[string]any{"records": records},
		metrics.Metric{Name: BatchFailures, Unit: metrics.Count, Value: failed},
		metrics.Metric{Name: RecordsRetried, Unit: metrics.Count, Value: float64(retried)})
}

// Skipped records a stream record that names no event to apply.
func (n metricsObserver) Skipped(o notify.Outcome) { n.observe(record{Outcome: o}) }

// StreamFailed records a stream not brought up to date (its records are
// retried), by what failed.
func (n metricsObserver) StreamFailed(err error) {
	r := record{Outcome: notify.Failed, Failure: failureState}
	switch {
	case errors.Is(err, checkqueue.ErrEnqueue):
		r.Failure = failureQueue
	case errors.Is(err, notify.ErrPublish):
		r.Failure = failurePublish
	}
	n.observe(r)
}

// topicName is the last part of an SNS topic ARN: a dimension value that
// stays the same across accounts and regions of one stack.
func topicName(arn string) string {
	if i := strings.LastIndexByte(arn, ':'); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// Event records what became of one event of a stream's log. Its alerts
// are counted when they are sent (Sent).
func (n metricsObserver) Event(r notify.EventResult) {
	rec := record{Outcome: r.Outcome, EventType: r.Type, Status: r.Status, Simulcast: r.SimulcastID != "",
		StateUpdated: r.StateUpdated, Info: r.Info, ClockSkewed: r.ClockSkewed}
	if r.Outcome == notify.Published {
		// Counted per alert sent, with its topic and delay.
		rec.Outcome = ""
	}
	n.observe(rec)
}

// Sent records one alert sent to topic about an event that occurred at
// occurredAt.
func (n metricsObserver) Sent(topic string, occurredAt, at time.Time) {
	n.observe(record{Outcome: notify.Published, Topic: topic, OccurredAt: occurredAt, PublishedAt: at})
}

// DeadLettered records an alert or change SNS refused for good, kept in
// the dead-letter queue.
func (n metricsObserver) DeadLettered(topic string) {
	n.e.Emit(map[string]string{"Topic": topicName(topic)}, nil, metrics.Metric{Name: DeadLettered, Unit: metrics.Count, Value: 1})
}

// Checked records what a held disconnect's check found: the stream back
// (a brief drop), the disconnect alerted, or the check early.
func (n metricsObserver) Checked(d notify.CheckDecision) {
	name := map[notify.CheckDecision]string{notify.CheckAlerted: ChecksAlerted, notify.CheckNotHeld: ChecksBack, notify.CheckEarly: ChecksEarly}[d]
	if name != "" {
		n.e.Emit(nil, map[string]any{"decision": string(d)}, metrics.Metric{Name: name, Unit: metrics.Count, Value: 1})
	}
}

// ChangeSent records one message sent to the change feed.
func (n metricsObserver) ChangeSent() { n.observe(record{ChangePublished: true}) }
