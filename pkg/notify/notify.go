// Package notify brings each stream's state up to date with its log and
// sends what that decides: alerts (by the rules of pkg/alertrules), the
// change feed's messages and the checks of held disconnects.
//
// The events table is each stream's ordered log (pkg/eventstore): a stream
// record only rings the bell. For the stream it names, the notifier reads
// the state (one strongly consistent read) and the log (one strongly
// consistent query) after the position the state has applied, with a
// look-back of the flap window and the grace for events it moved past
// without applying (an event of one status that reached us after a newer
// event of another status was applied). Of that, the query returns only
// what reached us since the previous pass read the log, less the time a
// write may take (writeBound): everything before was in the log when that
// pass read it, and was applied. The state remembers the events applied
// since (streamstate.State.Recent, up to 128), so none is applied twice;
// an event a pass misses (its write took longer than writeBound, or more
// than 128 of the stream's reached us within it) is applied when its own
// stream record rings. It applies them in the order they
// reached us, each status (the stream's, each target's, the details)
// moving only forward, so an event is late only when a newer one of its
// own status reached us first; and it writes the state back with what they
// decided still to be sent, conditionally on the state's revision. Two
// notifiers ringing for one stream at once (the event source's parallel
// lanes may) cannot both apply an event: the loser of the write reads
// again and finds it applied. So what a person is told depends on what
// FastPix sent and when, never on how the work was scheduled.
//
// What is decided is sent after the write that decided it, in order, by
// one notifier at a time (the one holding the state's lease), and removed
// from the state once sent: a crash between the write and the sends loses
// nothing (the next notifier for the stream sends it), and nothing is sent
// by two notifiers at once. A crash between a send and its removal sends it
// again: delivery is at least once.
package notify

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/changefeed"
	"github.com/streamhook/fastpix-receiver/pkg/checkqueue"
	"github.com/streamhook/fastpix-receiver/pkg/deadletter"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// Outcome says what became of one event, or of one stream record. It is
// the one list of outcomes: logs, the batch summary and metrics (each
// outcome has its metric, internal/app/notifier) use these names.
type Outcome string

const (
	// Published: the event decided alerts, sent after the state write.
	Published Outcome = "published"
	// Suppressed: notable but stale (it reached us after newer events of
	// its stream were applied): not sent, because "stream is live" after
	// it disconnected misleads.
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
	// alert. The event stays in the events table.
	Untracked Outcome = "untracked"
	// Held: a disconnect held for the grace; nothing is sent now.
	Held Outcome = "held"
	// BriefDrop: a reconnection within the grace of a held disconnect:
	// nothing is sent, the drop is counted.
	BriefDrop Outcome = "brief_drop"
	// Unprocessable: the event can never be applied (the state refused it
	// as invalid): logged, counted and passed over.
	Unprocessable Outcome = "unprocessable"

	// Failed: the stream could not be brought up to date for a reason a
	// retry can cure; its records are retried (stream adapter).
	Failed Outcome = "failed"
	// Unreadable: the stream record names no event (stream adapter).
	Unreadable Outcome = "unreadable"
	// Ignored: not an INSERT (a TTL expiry), not an event (stream adapter).
	Ignored Outcome = "ignored"
)

// Outcomes lists every Outcome, in the batch summary's order.
func Outcomes() []Outcome {
	return []Outcome{Published, Suppressed, TestSkipped, Recorded, Stale, Untracked, Held, BriefDrop, Unprocessable, Failed, Unreadable, Ignored}
}

// Errors of ApplyStream and Check: each means "retry"; what was applied
// and decided is kept, and nothing is applied or sent twice by the retry.
var (
	// ErrState: the stream's state or log could not be read or written.
	ErrState = errors.New("notify: stream state not brought up to date")
	// ErrPublish: an alert, a change or a check may not have left; it is
	// kept in the state and sent by the retry.
	ErrPublish = errors.New("notify: alert, change or check not sent")
)

// DefaultClockSkewTolerance is how far ahead of our receive time FastPix's
// createdAt is trusted when nothing else is set (the webhook orders a
// stream's log by it).
const DefaultClockSkewTolerance = 60 * time.Second

// Log is the events table as each stream's log.
type Log interface {
	eventstore.LogReader
	// GetEvent reads one event of a log (eventstore.ErrNotFound when it is
	// not there).
	GetEvent(ctx context.Context, logKey, eventID string) (eventstore.Record, error)
}

// States keeps the streams' state items.
type States interface {
	Load(ctx context.Context, streamID string) (streamstate.State, error)
	Save(ctx context.Context, st *streamstate.State) error
}

var _ States = (*streamstate.Store)(nil)

// Notifier brings streams up to date with their logs. Log, State,
// Publisher and Routes are required.
type Notifier struct {
	Log       Log
	State     States
	Publisher alerts.Publisher
	Routes    alerts.Routes
	// Changes receives every change applied to a stream's or a simulcast
	// target's status, test streams included (subscribers filter on the
	// test attribute); nil publishes none.
	Changes changefeed.Publisher
	// Rules are the alert rules' settings. Grace 0 alerts every disconnect
	// at once, through the same rules.
	Rules alertrules.Settings
	// Queue delays the check of a held disconnect; nil with a grace is a
	// configuration error (New refuses it).
	Queue checkqueue.Enqueuer
	// DeadLetters keeps aside an alert or change SNS refused for good
	// (alerts.Permanent), so that it does not hold back the stream's later
	// ones; nil retries it like any failure.
	DeadLetters DeadLetters
	// SkipTestEvents stops alerts about test streams (data.test true). The
	// zero value publishes them, with the attribute test=true.
	SkipTestEvents bool
	// Logger gets one line per event and per check (slog.Default() when nil).
	Logger *slog.Logger
	// Observer, when set, is told what became of each event and of each
	// alert sent.
	Observer Observer
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// DeadLetters keeps aside what SNS refused for good (deadletter.Queue).
type DeadLetters interface {
	Keep(ctx context.Context, m deadletter.Message) error
}

// Observer sees what the notifier does, for metrics.
type Observer interface {
	// Event: what became of one event of a stream's log.
	Event(r EventResult)
	// Sent: one alert left for topic, about an event that occurred at
	// occurredAt (its delay is at minus occurredAt).
	Sent(topic string, occurredAt, at time.Time)
	// ChangeSent: one change-feed message left.
	ChangeSent()
	// DeadLettered: SNS refused an alert or change for good, and it was
	// kept aside in the dead-letter queue.
	DeadLettered(topic string)
	// Checked: a held disconnect's check found this.
	Checked(d CheckDecision)
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

// EventResult is what became of one event.
type EventResult struct {
	EventID, Type string
	StreamID      string
	SimulcastID   string
	Outcome       Outcome
	// Status is the status the event gives its stream or target, or for
	// other events the status its payload reports.
	Status string
	// Info: about a stream, but not a status transition.
	Info bool
	// Topics are where its alerts go.
	Topics []string
	// Alerts are the kinds of the rules' alerts it decided.
	Alerts []alertrules.Kind
	// StateUpdated: the event moved its stream's (or target's) state.
	StateUpdated bool
	// Previous is the status it replaced (StateUpdated).
	Previous string
	// OccurredAt is the time the event is ordered by (its log position's).
	OccurredAt string
	// ClockSkewed: createdAt was beyond the tolerance ahead of the receive
	// time, and the event is ordered by the receive time.
	ClockSkewed bool
	// Late: the event reached us after newer events of its stream were
	// applied.
	Late bool
}

// event is a record read once: what it is about and what it changes.
type event struct {
	streamID, simulcastID string
	change                fastpix.Change
	// changesState: the event is about a stream's (or target's) status or
	// details, which the state follows; other events are only recorded.
	changesState bool
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
	e.change, e.changesState = fastpix.ChangeOf(r.Type, e.payloadStatus)
	e.changesState = e.changesState && e.streamID != ""
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
