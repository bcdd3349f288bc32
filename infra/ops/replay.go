package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// StateStore is the stream state table as replay uses it: read for a dry
// run, written when applying. streamstate.Store is one.
type StateStore interface {
	streamstate.Applier
	streamstate.Reader
}

var _ StateStore = (*streamstate.Store)(nil)

// Replayer re-runs the notifier over stored events: to re-send alerts lost
// to an outage longer than the stream's retries (24 hours of DynamoDB
// stream retention), or to see what the notifier makes of a stream.
type Replayer struct {
	Events    *eventstore.RangeReader
	State     StateStore
	Publisher alerts.Publisher
	Routes    alerts.Routes
	// SkipTestEvents as the notifier is configured (PUBLISH_TEST_EVENTS).
	SkipTestEvents bool
	// Out receives one line per event and a summary.
	Out io.Writer
}

// Summary counts a run's outcomes.
type Summary struct {
	Events    int
	Outcomes  map[notify.Outcome]int
	Truncated bool // more events matched than the limit
}

func (s Summary) String() string {
	return fmt.Sprintf("%d events: %d published, %d suppressed (stale), %d test skipped, %d recorded, %d stale, %d untracked, %d unprocessable",
		s.Events, s.Outcomes[notify.Published], s.Outcomes[notify.Suppressed], s.Outcomes[notify.TestSkipped],
		s.Outcomes[notify.Recorded], s.Outcomes[notify.Stale], s.Outcomes[notify.Untracked], s.Outcomes[notify.Unprocessable])
}

// Replay processes the events q selects, oldest first, through
// notify.Notifier.
//
// With apply false (a dry run) nothing is written and nothing is sent: the
// notifier runs against a copy of each stream's state read once from the
// table and moved forward in memory, and against a publisher that only
// records, so the output says exactly what applying would do now.
//
// With apply true it is the notifier's own processing: the state moves
// forward, and each event that is still the latest of its stream (or
// target) is published again. An event already followed by a newer one is
// suppressed as stale, as the notifier would. An event no retry can process
// is reported and skipped; at any other error it stops (running it again
// is safe: state updates only move forward).
func (r *Replayer) Replay(ctx context.Context, q eventstore.RangeQuery, apply bool) (Summary, error) {
	sum := Summary{Outcomes: map[notify.Outcome]int{}}
	recs, more, err := r.Events.Events(ctx, q)
	if err != nil {
		return sum, err
	}
	sum.Truncated = more
	n := &notify.Notifier{
		State: r.State, Publisher: r.Publisher, Routes: r.Routes, SkipTestEvents: r.SkipTestEvents,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	verb := "published to"
	if !apply {
		n.State = &streamstate.Memory{Read: r.State}
		n.Publisher = discard{}
		verb = "would publish to"
	}
	for _, rec := range recs {
		res, err := n.Process(ctx, rec)
		if errors.Is(err, notify.ErrUnprocessable) {
			// No retry can process it: say so, and go on.
			sum.Events++
			sum.Outcomes[notify.Unprocessable]++
			fmt.Fprintf(r.Out, "%s  SKIPPED, cannot be processed: %v\n", line(rec), err)
			continue
		}
		if err != nil {
			fmt.Fprintf(r.Out, "%s  FAILED  %s: %v\n", line(rec), rec.EventID, err)
			return sum, fmt.Errorf("ops: replay stopped at event %s after %d events: %w", rec.EventID, sum.Events, err)
		}
		sum.Events++
		sum.Outcomes[res.Outcome]++
		what := string(res.Outcome)
		switch res.Outcome {
		case notify.Published:
			what = verb + " " + res.Topic
		case notify.Suppressed:
			what = "suppressed: a newer event is the stream's state"
		case notify.TestSkipped:
			what = "not published: test stream"
		}
		fmt.Fprintf(r.Out, "%s  %-14s %s\n", line(rec), res.Status, what)
	}
	mode := "applied"
	if !apply {
		mode = "dry run (nothing written or sent; -apply to do it)"
	}
	fmt.Fprintf(r.Out, "%s: %s\n", mode, sum)
	if sum.Truncated {
		fmt.Fprintf(r.Out, "more events matched than the limit: narrow the range or raise -limit\n")
	}
	return sum, nil
}

// line is an event's timeline prefix.
func line(r eventstore.Record) string {
	stream := r.StreamID
	if r.SimulcastID != "" {
		stream += "/" + r.SimulcastID
	}
	if stream == "" {
		stream = "-"
	}
	return fmt.Sprintf("%s  %-50s %-36s %s", r.OccurredAt, r.Type, r.EventID, stream)
}

// discard is the dry run's publisher.
type discard struct{}

func (discard) Publish(context.Context, string, alerts.Message) error { return nil }
