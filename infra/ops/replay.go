package ops

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
)

// Replayer brings the streams of stored events up to date with their logs
// through the notifier itself: after an outage longer than the stream's
// retries (24 hours of DynamoDB stream retention) the events are in the
// log but not applied, and applying them sends exactly what the live
// system would have. Events already applied are not applied, nor sent,
// again.
type Replayer struct {
	Events   *eventstore.RangeReader
	Notifier *notify.Notifier
	// Out receives one line per event and a summary.
	Out io.Writer
}

// Summary counts a run's outcomes.
type Summary struct {
	Events    int
	Streams   int
	Outcomes  map[notify.Outcome]int
	Truncated bool // more events matched than the limit
}

func (s Summary) String() string {
	return fmt.Sprintf("%d events of %d streams to apply: %d alerting, %d suppressed (stale), %d test skipped, %d recorded, %d stale, %d untracked, %d unprocessable",
		s.Events, s.Streams, s.Outcomes[notify.Published], s.Outcomes[notify.Suppressed], s.Outcomes[notify.TestSkipped],
		s.Outcomes[notify.Recorded], s.Outcomes[notify.Stale], s.Outcomes[notify.Untracked], s.Outcomes[notify.Unprocessable])
}

// Replay brings up to date the streams of the events q selects, in the
// order of their first event.
//
// With apply false (a dry run) nothing is written and nothing is sent: it
// says what applying would apply and send now. With apply true it is the
// notifier's own work (notify.Notifier.ApplyStream); it stops at the first
// stream that fails (running it again is safe).
func (r *Replayer) Replay(ctx context.Context, q eventstore.RangeQuery, apply bool) (Summary, error) {
	sum := Summary{Outcomes: map[notify.Outcome]int{}}
	recs, more, err := r.Events.Events(ctx, q)
	if err != nil {
		return sum, err
	}
	sum.Truncated = more
	var keys []string
	ids := map[string][]string{}
	for _, rec := range recs {
		k := rec.LogKey()
		if _, seen := ids[k]; !seen {
			keys = append(keys, k)
		}
		ids[k] = append(ids[k], rec.EventID)
	}
	for _, k := range keys {
		var results []notify.EventResult
		var effects []notify.Effect
		if apply {
			results, err = r.Notifier.ApplyStream(ctx, k, ids[k])
		} else {
			results, effects, err = r.Notifier.Preview(ctx, k)
		}
		if err != nil {
			fmt.Fprintf(r.Out, "stream %s  FAILED: %v\n", k, err)
			return sum, fmt.Errorf("ops: replay stopped at stream %s after %d events: %w", k, sum.Events, err)
		}
		sum.Streams++
		for _, res := range results {
			sum.Events++
			sum.Outcomes[res.Outcome]++
			fmt.Fprintf(r.Out, "%s  %-50s %-36s %-14s %s\n", res.OccurredAt, res.Type, res.EventID, res.Status, describeResult(res, apply))
		}
		for _, e := range effects {
			if e.Alert != nil {
				fmt.Fprintf(r.Out, "  would send %s alert about %s to %s\n", orEvent(string(e.Alert.Kind)), e.Alert.EventID, e.Topic)
			}
		}
		if len(results) == 0 {
			fmt.Fprintf(r.Out, "stream %s is up to date: nothing to apply\n", k)
		}
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

func describeResult(res notify.EventResult, apply bool) string {
	switch res.Outcome {
	case notify.Published:
		verb := "sent to"
		if !apply {
			verb = "would send to"
		}
		return verb + " " + strings.Join(res.Topics, ", ")
	case notify.Suppressed:
		return "suppressed: it reached us after newer events of its stream"
	case notify.TestSkipped:
		return "not published: test stream"
	}
	return string(res.Outcome)
}

func orEvent(s string) string {
	if s == "" {
		return "event"
	}
	return s
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
