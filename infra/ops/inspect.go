package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// Inspector prints a stream's state and recent history.
type Inspector struct {
	State  streamstate.Reader
	Events eventstore.StreamReader
	Out    io.Writer
}

// Inspect prints streamID's state (or that it has none) and its last n
// events, oldest first, with how long each took from FastPix's createdAt to
// our receipt.
func (in *Inspector) Inspect(ctx context.Context, streamID string, n int) error {
	st, err := in.State.Get(ctx, streamID)
	switch {
	case errors.Is(err, streamstate.ErrNotFound):
		fmt.Fprintf(in.Out, "stream %s: no state (the notifier has applied no event of it)\n", streamID)
	case err != nil:
		return err
	default:
		status := st.Status
		if status == "" {
			status = "(only simulcast target events so far)"
		}
		fmt.Fprintf(in.Out, "stream %s: %s\n", streamID, status)
		if st.LastEventID != "" {
			fmt.Fprintf(in.Out, "  since %s  by %s (%s)\n", st.LastOccurredAt, escaped(st.LastEventType), escaped(st.LastEventID))
		}
		if st.UpdatedAt != "" {
			fmt.Fprintf(in.Out, "  state written %s\n", st.UpdatedAt)
		}
		ids := make([]string, 0, len(st.SimulcastTargets))
		for id := range st.SimulcastTargets {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			t := st.SimulcastTargets[id]
			fmt.Fprintf(in.Out, "  simulcast target %s: %s since %s by %s (%s)\n", escaped(id), t.Status, t.LastOccurredAt, escaped(t.LastEventType), escaped(t.LastEventID))
		}
	}
	if n <= 0 {
		return nil
	}
	if n > eventstore.MaxLimit {
		n = eventstore.MaxLimit
	}
	page, err := in.Events.StreamEvents(ctx, eventstore.StreamQuery{StreamID: streamID, Limit: n})
	if err != nil {
		return err
	}
	recs := page.Records
	fmt.Fprintf(in.Out, "last %d events, oldest first (occurredAt, type, event id, target, FastPix to us):\n", len(recs))
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		lag := ""
		if o, err := time.Parse(time.RFC3339Nano, r.OccurredAt); err == nil {
			if rc, err := time.Parse(time.RFC3339Nano, r.ReceivedAt); err == nil {
				lag = rc.Sub(o).Round(time.Millisecond).String()
			}
		}
		test := ""
		if r.Test {
			test = " (test)"
		}
		target := r.SimulcastID
		if target == "" {
			target = "-"
		}
		fmt.Fprintf(in.Out, "  %s  %-50s %-36s %-12s %s%s\n", r.OccurredAt, escaped(r.Type), escaped(r.EventID), escaped(target), lag, test)
	}
	if page.NextCursor != "" {
		fmt.Fprintf(in.Out, "  (older events exist)\n")
	}
	return nil
}
