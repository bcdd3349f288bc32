package ops_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// An outage longer than the stream's retries lost the notifier's work on
// two streams: the events are in their logs, the state table and the
// subscribers never heard of them. Replay brings the streams up to date as
// the notifier would have: the same alerts, once.
func TestReplay(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.put("s1-created", "video.live_stream.created", "stream-1", 0)
	e.put("s1-active", "video.live_stream.active", "stream-1", 10)
	e.put("s1-down", "video.live_stream.disconnected", "stream-1", 50)
	e.put("s2-active", "video.live_stream.active", "stream-2", 30)
	e.put("old-active", "video.live_stream.active", "stream-3", -600)

	r := &ops.Replayer{Events: e.eventSource, Notifier: e.notifier, Out: &e.out}
	type want struct {
		published, held, recorded int
		events                    int
	}
	steps := []struct {
		name  string
		q     eventstore.RangeQuery
		apply bool
		want  want
		// after: the state of stream-1 ("" = none), the alerts received,
		// and what the output must say
		state1 string
		alerts int
		says   string
	}{
		{name: "dry run of a stream changes and sends nothing", q: eventstore.RangeQuery{StreamID: "stream-1"},
			want: want{published: 1, held: 1, recorded: 1, events: 3}, state1: "", alerts: 0, says: "would send disconnected alert about s1-down"},
		{name: "dry run of a time range across streams", q: eventstore.RangeQuery{From: e.base, To: e.base.Add(time.Hour)},
			want: want{published: 2, held: 1, recorded: 1, events: 4}, state1: "", alerts: 0, says: "would send live alert about s2-active"},
		{name: "apply a stream", q: eventstore.RangeQuery{StreamID: "stream-1"}, apply: true,
			want: want{published: 1, held: 1, recorded: 1, events: 3}, state1: "disconnected", alerts: 2, says: "sent to arn:"},
		{name: "dry run again: the stream is up to date", q: eventstore.RangeQuery{StreamID: "stream-1", From: e.base.Add(5 * time.Minute)},
			want: want{}, state1: "disconnected", alerts: 2, says: "stream stream-1 is up to date"},
		{name: "apply the range", q: eventstore.RangeQuery{From: e.base.Add(20 * time.Minute), To: e.base.Add(40 * time.Minute)}, apply: true,
			want: want{published: 1, events: 1}, state1: "disconnected", alerts: 3},
		{name: "apply it again: nothing twice", q: eventstore.RangeQuery{From: e.base, To: e.base.Add(time.Hour)}, apply: true,
			want: want{}, state1: "disconnected", alerts: 3},
	}
	for _, s := range steps {
		e.out.Reset()
		sum, err := r.Replay(ctx, s.q, s.apply)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got := want{sum.Outcomes[notify.Published], sum.Outcomes[notify.Held], sum.Outcomes[notify.Recorded], sum.Events}
		if got != s.want {
			t.Errorf("%s: %+v, want %+v\n%s", s.name, got, s.want, e.out.String())
		}
		st, err := e.store.Get(ctx, "stream-1")
		switch {
		case s.state1 == "" && !errors.Is(err, streamstate.ErrNotFound):
			t.Errorf("%s: stream-1 has state %+v (%v), want none", s.name, st, err)
		case s.state1 != "" && (err != nil || st.Status != s.state1):
			t.Errorf("%s: stream-1 state %+v (%v), want %s", s.name, st, err, s.state1)
		}
		if s.alerts > 0 {
			waitFor(t, "alerts", func() bool { return received(e.inbox, "") >= s.alerts })
		}
		if n := received(e.inbox, ""); n != s.alerts {
			t.Errorf("%s: %d alerts received, want %d", s.name, n, s.alerts)
		}
		if !strings.Contains(e.out.String(), s.says) {
			t.Errorf("%s: output does not say %q:\n%s", s.name, s.says, e.out.String())
		}
	}
	if received(e.inbox, e.live) != 2 || received(e.inbox, e.down) != 1 {
		t.Errorf("live %d, down %d alerts; want 2 and 1", received(e.inbox, e.live), received(e.inbox, e.down))
	}
}
