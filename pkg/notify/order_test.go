package notify_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// delivery is one stored event: its type, its createdAt as sent, and when
// the webhook received it.
type delivery struct {
	id, action, createdAt string
	received              time.Duration // after t0
}

func (d delivery) record() eventstore.Record {
	typ := "video.live_stream." + d.action
	occurred := d.createdAt
	if t, err := time.Parse(time.RFC3339Nano, d.createdAt); err == nil {
		occurred = eventstore.FormatTime(t)
	}
	return eventstore.Record{
		EventID: d.id, Type: typ, StreamID: "s1", WorkspaceName: "Dev",
		OccurredAt: occurred, ReceivedAt: eventstore.FormatTime(t0.Add(d.received)),
		Payload: fmt.Sprintf(`{"id":%q,"type":%q,"createdAt":%q,"data":{"streamId":"s1","status":"active"}}`, d.id, typ, d.createdAt),
	}
}

func ts(d time.Duration) string { return t0.Add(d).Format(time.RFC3339Nano) }

// Sequences of deliveries through the notifier and the state's own rules:
// which alerts leave and which status the stream ends in.
func TestEventOrderHazards(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name          string
		tolerance     time.Duration
		deliveries    []delivery
		wantPublished []string
		wantStatus    string
		wantSkewed    []string
	}{
		{
			name: "a createdAt in year 9999 does not freeze the stream",
			deliveries: []delivery{
				{"a", "active", "9999-12-31T23:59:59Z", 0},
				{"d", "disconnected", ts(5 * time.Second), 5 * time.Second},
			},
			wantPublished: []string{"a", "d"}, wantStatus: "disconnected", wantSkewed: []string{"a"},
		},
		{
			name: "ten minutes ahead does not swallow a disconnect five seconds later",
			deliveries: []delivery{
				{"a", "active", ts(10 * time.Minute), 0},
				{"d", "disconnected", ts(5 * time.Second), 5 * time.Second},
			},
			wantPublished: []string{"a", "d"}, wantStatus: "disconnected", wantSkewed: []string{"a"},
		},
		{
			name: "within the tolerance createdAt is trusted",
			deliveries: []delivery{
				{"a", "active", ts(30 * time.Second), 0},
				{"d", "disconnected", ts(5 * time.Second), 5 * time.Second},
			},
			wantPublished: []string{"a"}, wantStatus: "active",
		},
		{
			name: "the tolerance is a setting", tolerance: 10 * time.Second,
			deliveries: []delivery{
				{"a", "active", ts(30 * time.Second), 0},
				{"d", "disconnected", ts(5 * time.Second), 5 * time.Second},
			},
			wantPublished: []string{"a", "d"}, wantStatus: "disconnected", wantSkewed: []string{"a"},
		},
		{
			name: "recording after active, delivered first, does not hide LIVE",
			deliveries: []delivery{
				{"c", "connected", ts(0), 0},
				{"r", "recording", ts(20 * ms), 30 * ms},
				{"a", "active", ts(10 * ms), 40 * ms},
			},
			wantPublished: []string{"a"}, wantStatus: "active",
		},
		{
			name: "updated after disconnected, delivered first, does not suppress it",
			deliveries: []delivery{
				{"a", "active", ts(0), 0},
				{"u", "updated", ts(2 * time.Second), 2 * time.Second},
				{"d", "disconnected", ts(time.Second), 3 * time.Second},
			},
			wantPublished: []string{"a", "d"}, wantStatus: "disconnected",
		},
		{
			name: "same createdAt: disconnected after active whatever the ids",
			deliveries: []delivery{
				{"ev-a", "disconnected", ts(0), 0},
				{"ev-z", "active", ts(0), time.Second},
			},
			wantPublished: []string{"ev-a"}, wantStatus: "disconnected",
		},
		{
			name: "a lower-case createdAt is read, not replaced",
			deliveries: []delivery{
				{"a", "active", "2026-03-01t12:00:00.5z", time.Second},
				{"d", "disconnected", "2026-03-01T12:00:00.2Z", 2 * time.Second},
			},
			wantPublished: []string{"a"}, wantStatus: "active",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			pub := &fakePublisher{}
			n := &notify.Notifier{State: &streamstate.Memory{}, Publisher: pub, Routes: routes, ClockSkewTolerance: tc.tolerance,
				Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
			var skewed []string
			for _, d := range tc.deliveries {
				r := d.record()
				if strings.Contains(d.createdAt, "t") || strings.HasSuffix(d.createdAt, "z") {
					// As the webhook stores it: fastpix.ParseTime reads it.
					if tt, err := time.Parse(time.RFC3339Nano, strings.ToUpper(d.createdAt)); err == nil {
						r.OccurredAt = eventstore.FormatTime(tt)
					}
				}
				res, err := n.Process(context.Background(), r)
				if err != nil {
					t.Fatalf("%s: %v", d.id, err)
				}
				if res.ClockSkewed {
					skewed = append(skewed, d.id)
					if res.OccurredAt != r.ReceivedAt {
						t.Errorf("%s ordered at %s, want the receive time %s", d.id, res.OccurredAt, r.ReceivedAt)
					}
				}
			}
			var got []string
			for _, p := range pub.got {
				got = append(got, p.m.Attributes["eventType"][len("video.live_stream."):]+":"+idOf(t, p.m.Default))
			}
			var want []string
			for _, id := range tc.wantPublished {
				for _, d := range tc.deliveries {
					if d.id == id {
						want = append(want, d.action+":"+id)
					}
				}
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("published %v, want %v", got, want)
			}
			st, _ := n.State.(*streamstate.Memory).Get(context.Background(), "s1")
			if st.Status != tc.wantStatus {
				t.Errorf("status %q, want %q", st.Status, tc.wantStatus)
			}
			if strings.Join(skewed, ",") != strings.Join(tc.wantSkewed, ",") {
				t.Errorf("skewed %v, want %v", skewed, tc.wantSkewed)
			}
			if n := strings.Count(logs.String(), "createdAt ahead of the receive time"); n != len(tc.wantSkewed) {
				t.Errorf("%d skew log lines, want %d", n, len(tc.wantSkewed))
			}
			// The alert never shows a createdAt that was not trusted.
			if strings.Contains(strings.Join(alertTexts(pub), ""), "9999") {
				t.Errorf("an alert shows the skewed createdAt")
			}
		})
	}
}

func idOf(t *testing.T, def string) string {
	t.Helper()
	i := strings.Index(def, `"eventId":"`)
	if i < 0 {
		t.Fatalf("no eventId in %s", def)
	}
	rest := def[i+len(`"eventId":"`):]
	return rest[:strings.IndexByte(rest, '"')]
}

func alertTexts(p *fakePublisher) []string {
	var out []string
	for _, g := range p.got {
		out = append(out, g.m.Default, g.m.Email, g.m.SMS, g.m.Subject)
	}
	return out
}

// A createdAt the webhook could not read is logged as replaced.
func TestReplacedCreatedAtIsLogged(t *testing.T) {
	var logs bytes.Buffer
	n := &notify.Notifier{State: &streamstate.Memory{}, Publisher: &fakePublisher{}, Routes: routes, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	r := delivery{"x", "idle", "yesterday", 0}.record()
	r.OccurredAt = r.ReceivedAt // what eventstore.NewRecord stores
	if _, err := n.Process(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "createdAt missing or unreadable") || !strings.Contains(logs.String(), `"createdAt":"yesterday"`) {
		t.Errorf("no log of the replaced createdAt: %s", logs.String())
	}
}

// The state update's result says what it replaced.
func TestProcessReportsTheTransition(t *testing.T) {
	n := &notify.Notifier{State: &streamstate.Memory{}, Publisher: &fakePublisher{}, Routes: routes, Logger: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	for _, step := range []struct {
		d    delivery
		want streamstate.Transition
	}{
		{delivery{"a", "active", ts(0), 0}, streamstate.Transition{Current: "active"}},
		{delivery{"d", "disconnected", ts(time.Second), time.Second}, streamstate.Transition{Previous: "active", Current: "disconnected"}},
	} {
		res, err := n.Process(ctx, step.d.record())
		if err != nil || !res.StateUpdated || res.Transition.Previous != step.want.Previous || res.Transition.Current != step.want.Current {
			t.Errorf("%s: %+v, %v; want transition %+v", step.d.id, res, err, step.want)
		}
	}
}
