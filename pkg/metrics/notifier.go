package metrics

import (
	"strings"
	"time"
)

// Metric names of the notifier function. The template's dashboard and
// alarms use the same names.
const (
	Published       = "Published"       // alerts sent, by Topic (the topic's name)
	SuppressedStale = "SuppressedStale" // notable events not sent because a newer state exists
	TestSkipped     = "TestSkipped"     // alerts about test streams not sent (PUBLISH_TEST_EVENTS=false)
	PublishFailures = "PublishFailures" // records whose alert may not have left (SNS error): retried
	StateUpdates    = "StateUpdates"    // events that moved a stream's (or target's) state forward
	StateFailures   = "StateFailures"   // records whose state update failed (DynamoDB error): retried
	Unreadable      = "UnreadableRecords"
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
)

// Failure kinds of a record (NotifyRecord.Failure).
const (
	FailureState   = "state"
	FailurePublish = "publish"
)

// NotifyRecord is what became of one stream record in the notifier.
type NotifyRecord struct {
	// Outcome is the notifier's outcome (published, suppressed,
	// test_skipped, recorded, stale), "failed" or "unreadable".
	Outcome   string
	EventType string
	// Topic is the ARN the alert went to, when published.
	Topic string
	// Status is the status the event gives its stream or target.
	Status string
	// Simulcast: the event is about a simulcast target, not the stream.
	Simulcast bool
	// StateUpdated: the event moved the state forward.
	StateUpdated bool
	// Failure is FailureState or FailurePublish when Outcome is "failed".
	Failure string
	// OccurredAt and PublishedAt give the alert delay (both set when
	// published).
	OccurredAt, PublishedAt time.Time
}

// Notifier turns the notifier's outcomes into metrics. It implements the
// stream adapter's Observer.
type Notifier struct {
	E *Emitter
}

// ObserveRecord records one stream record: one line, with the Topic
// dimension when an alert was published.
func (n Notifier) ObserveRecord(r NotifyRecord) {
	var ms []Metric
	count := func(name string) { ms = append(ms, Metric{Name: name, Unit: Count, Value: 1}) }
	var dims map[string]string
	switch r.Outcome {
	case "published":
		count(Published)
		dims = map[string]string{"Topic": TopicName(r.Topic)}
		if !r.OccurredAt.IsZero() && !r.PublishedAt.IsZero() {
			d := r.PublishedAt.Sub(r.OccurredAt)
			if d < 0 { // FastPix's clock ahead of ours
				d = 0
			}
			ms = append(ms, Metric{Name: AlertDelay, Unit: Milliseconds, Value: float64(d.Microseconds()) / 1000})
		}
	case "suppressed":
		count(SuppressedStale)
	case "test_skipped":
		count(TestSkipped)
	case "unreadable":
		count(Unreadable)
	case "failed":
		switch r.Failure {
		case FailurePublish:
			count(PublishFailures)
		case FailureState:
			count(StateFailures)
		}
	}
	if r.StateUpdated {
		count(StateUpdates)
		if !r.Simulcast {
			switch r.Status {
			case "active":
				count(StreamsWentLive)
			case "disconnected":
				count(StreamsDisconnected)
			}
		}
	}
	props := map[string]any{"outcome": r.Outcome}
	if r.EventType != "" {
		props["eventType"] = r.EventType
	}
	n.E.Emit(dims, props, ms...)
}

// ObserveBatch records the end of one batch of records handed to the
// notifier, of which retried were reported failed.
func (n Notifier) ObserveBatch(records, retried int) {
	failed := 0.0
	if retried > 0 {
		failed = 1
	}
	n.E.Emit(nil, map[string]any{"records": records},
		Metric{Name: BatchFailures, Unit: Count, Value: failed},
		Metric{Name: RecordsRetried, Unit: Count, Value: float64(retried)})
}

// TopicName is the last part of an SNS topic ARN: a dimension value that
// stays the same across accounts and regions of one stack.
func TopicName(arn string) string {
	if i := strings.LastIndexByte(arn, ':'); i >= 0 {
		return arn[i+1:]
	}
	return arn
}
