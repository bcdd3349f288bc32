package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/changefeed"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// fakeFeed keeps the changes published, and fails while err is set.
type fakeFeed struct {
	got []changefeed.Change
	err error
}

func (f *fakeFeed) Publish(_ context.Context, c changefeed.Change) error {
	if f.err != nil {
		return f.err
	}
	f.got = append(f.got, c)
	return nil
}

// wantChange is a change the feed must carry: target "" for the stream's
// own status.
type wantChange struct{ target, previous, status string }

const (
	feedStream = "a2ae2143-62a1-4eee-b888-4f1406148481"
	feedTarget = "5d7b3a52-a8a1-4c51-9d1e-3b1b2c8f0e11"
)

// lifeStep is one stored event of a stream's life, in delivery order, and
// the feed message it must cause (nil: none).
type lifeStep struct {
	r    eventstore.Record
	want *wantChange
}

// streamLife is a stream's whole life with a simulcast target, as the
// notifier sees it: in order, with an event that is not a transition, a
// late (stale) active after the disconnect, a stale target event, and an
// idle that leaves the status as it was.
func streamLife() []lifeStep {
	t0 := time.Date(2024, 4, 2, 11, 17, 52, 722812836, time.UTC)
	n := 0
	ev := func(action string, at time.Duration, target bool) eventstore.Record {
		n++
		typ := "video.live_stream." + action
		r := eventstore.Record{
			EventID: fmt.Sprintf("ev-%02d-%s", n, action), Type: typ, StreamID: feedStream,
			WorkspaceID: "ws-dev", WorkspaceName: "Development",
			OccurredAt: eventstore.FormatTime(t0.Add(at)), ReceivedAt: eventstore.FormatTime(t0.Add(at + time.Second)),
			Payload: fmt.Sprintf(`{"id":"ev-%02d","type":%q,"data":{"streamId":%q,"status":"idle"}}`, n, typ, feedStream),
		}
		if target {
			r.Type = "video.live_stream.simulcast." + action
			r.SimulcastID = feedTarget
			r.Payload = fmt.Sprintf(`{"id":"ev-%02d","type":%q,"data":{"livestreamId":%q,"simulcastId":%q}}`, n, r.Type, feedStream, feedTarget)
		}
		return r
	}
	w := func(target, previous, status string) *wantChange { return &wantChange{target, previous, status} }
	return []lifeStep{
		{ev("created", 0, false), w("", "", "idle")}, // a created stream is in its payload's status
		{ev("created", 20*time.Second, true), w(feedTarget, "", "created")},
		{ev("connected", 2*time.Minute, false), w("", "idle", "connected")},
		{ev("starting", 2*time.Minute+time.Second, true), w(feedTarget, "created", "starting")},
		{ev("active", 2*time.Minute+5*time.Second, false), w("", "connected", "active")},
		{ev("recording", 2*time.Minute+6*time.Second, false), nil}, // not a transition
		{ev("broadcasting", 2*time.Minute+12*time.Second, true), w(feedTarget, "starting", "broadcasting")},
		{ev("disconnected", 47*time.Minute, false), w("", "active", "disconnected")},
		{ev("active", 31*time.Minute, false), nil},               // created before the disconnect: stale
		{ev("starting", 2*time.Minute+2*time.Second, true), nil}, // stale for the target
		{ev("idle", 48*time.Minute, false), w("", "disconnected", "idle")},
		{ev("idle", 49*time.Minute, false), nil}, // the status it already has
		{ev("deleted", 50*time.Minute, true), w(feedTarget, "broadcasting", "deleted")},
		{ev("deleted", 51*time.Minute, false), w("", "idle", "deleted")},
	}
}

func checkChange(t *testing.T, step int, got changefeed.Change, r eventstore.Record, want wantChange) {
	t.Helper()
	if got.StreamID != feedStream || got.SimulcastTargetID != want.target || got.PreviousStatus != want.previous || got.Status != want.status ||
		got.EventID != r.EventID || got.EventType != r.Type || got.OccurredAt != r.OccurredAt ||
		got.WorkspaceID != "ws-dev" || got.WorkspaceName != "Development" || got.Test {
		t.Errorf("step %d (%s): change %+v, want %+v of event %s", step, r.EventID, got, want, r.EventID)
	}
}

func quietNotifier(state streamstate.Applier, pub alerts.Publisher, feed changefeed.Publisher) *notify.Notifier {
	return &notify.Notifier{State: state, Publisher: pub, Routes: routes, Changes: feed, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
}

// The feed's rules on the in-memory state: one change per applied status
// change, none for the rest; alerts as before.
func TestChangeFeedLife(t *testing.T) {
	feed, pub := &fakeFeed{}, &fakePublisher{}
	n := quietNotifier(&streamstate.Memory{}, pub, feed)
	wantAlerts := 0
	for i, st := range streamLife() {
		before := len(feed.got)
		res, err := n.Process(context.Background(), st.r)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if res.Outcome == notify.Published {
			wantAlerts++
		}
		switch {
		case st.want == nil && len(feed.got) != before:
			t.Errorf("step %d (%s): published %+v, want nothing", i, st.r.EventID, feed.got[before:])
		case st.want == nil:
		case len(feed.got) != before+1:
			t.Errorf("step %d (%s): %d changes published, want 1", i, st.r.EventID, len(feed.got)-before)
		default:
			checkChange(t, i, feed.got[before], st.r, *st.want)
			if !res.ChangePublished {
				t.Errorf("step %d: result does not say the change was published", i)
			}
		}
	}
	// Alerts are unchanged by the feed: live, simulcast live, disconnected.
	if len(pub.got) != 3 || wantAlerts != 3 {
		t.Errorf("%d alerts, want 3 (live, simulcast broadcasting, disconnected)", len(pub.got))
	}
}

// A publish that fails is retried with the record; the retry still sends
// the change (the state already holds it) with what it replaced, and no
// alert goes out twice because the feed is sent first. A target's retried
// change is sent without the previous status, which its entry does not
// keep.
func TestChangeFeedRetries(t *testing.T) {
	life := streamLife()
	tests := []struct {
		name               string
		before             []lifeStep // processed first, without failure
		step               lifeStep   // fails once, then is retried
		feedErr, alertErr  error
		wantFeed           []wantChange // changes published for step, both attempts
		wantAlertsFirstTry int
		wantAlerts         int // on the retry
	}{
		{
			name: "the feed fails", before: life[:3], step: life[4], feedErr: errors.New("SNS throttled"),
			wantFeed: []wantChange{{"", "connected", "active"}}, wantAlertsFirstTry: 0, wantAlerts: 1,
		},
		{
			name: "the alert fails after the feed", before: life[:3], step: life[4], alertErr: alerts.ErrPublish,
			wantFeed: []wantChange{{"", "connected", "active"}, {"", "connected", "active"}}, wantAlertsFirstTry: 1, wantAlerts: 1,
		},
		{
			name: "a target's change: the feed fails", before: life[:4], step: life[6], feedErr: errors.New("SNS throttled"),
			wantFeed: []wantChange{{feedTarget, "", "broadcasting"}}, wantAlertsFirstTry: 0, wantAlerts: 1,
		},
		{
			name: "a change to the status it had: nothing, even on a retry", before: life[:11], step: life[11], feedErr: errors.New("SNS throttled"),
			wantFeed: nil, wantAlertsFirstTry: 0, wantAlerts: 0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			feed, pub := &fakeFeed{}, &fakePublisher{}
			n := quietNotifier(&streamstate.Memory{}, pub, feed)
			ctx := context.Background()
			for _, st := range tc.before {
				if _, err := n.Process(ctx, st.r); err != nil {
					t.Fatal(err)
				}
			}
			feed.got, pub.got = nil, nil
			feed.err, pub.err = tc.feedErr, tc.alertErr
			_, err := n.Process(ctx, tc.step.r)
			if failing := len(tc.wantFeed) > 0; failing != errors.Is(err, notify.ErrPublish) {
				t.Fatalf("first attempt: %v", err)
			}
			if len(pub.got) != tc.wantAlertsFirstTry {
				t.Errorf("first attempt: %d alerts, want %d", len(pub.got), tc.wantAlertsFirstTry)
			}
			feed.err, pub.err = nil, nil
			pub.got = nil
			res, err := n.Process(ctx, tc.step.r)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if !res.Transition.Repeated || len(pub.got) != tc.wantAlerts {
				t.Errorf("retry: %+v, %d alerts; want the repeated transition and %d alerts", res, len(pub.got), tc.wantAlerts)
			}
			if len(feed.got) != len(tc.wantFeed) {
				t.Fatalf("changes %+v, want %+v", feed.got, tc.wantFeed)
			}
			for i, w := range tc.wantFeed {
				checkChange(t, i, feed.got[i], tc.step.r, w)
			}
		})
	}
}

// feedMessage is the change feed's JSON as a subscriber reads it.
type feedMessage struct {
	StreamID          string `json:"streamId"`
	SimulcastTargetID string `json:"simulcastTargetId"`
	Workspace         struct {
		ID, Name string
	} `json:"workspace"`
	PreviousStatus string `json:"previousStatus"`
	Status         string `json:"status"`
	EventID        string `json:"eventId"`
	Type           string `json:"type"`
	OccurredAt     string `json:"occurredAt"`
	Test           *bool  `json:"test"`
}

// The feed through the real state table (DynamoDB Local) and topic
// (goaws): a subscriber receives exactly one message per applied change,
// in the order of the changes, with the previous status and the filter
// attributes; nothing for the stale, repeated-status and other events.
func TestChangeFeedAgainstGoaws(t *testing.T) {
	ddb := testenv.DynamoDB(t)
	snsClient := testenv.SNS(t)
	store := &streamstate.Store{Client: ddb, Table: testenv.CreateTable(t, ddb, "StreamStateTable")}
	alertsTopic := testenv.CreateTopic(t, snsClient, "alerts")
	changesTopic := testenv.CreateTopic(t, snsClient, "changes")
	sub := testenv.NewSubscriber(t)
	sub.Subscribe(t, snsClient, changesTopic)
	publisher := &alerts.SNSPublisher{Client: snsClient}
	n := quietNotifier(store, publisher, &changefeed.Feed{Publisher: publisher, TopicARN: changesTopic})
	n.Routes = alerts.Routes{"video.live_stream.active": alertsTopic}

	ctx := context.Background()
	var got []testenv.Notification
	// wait collects what has arrived until want messages are in, then a
	// moment more to catch any message too many.
	wait := func(want int) {
		for deadline := time.Now().Add(10 * time.Second); len(got) < want && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
			got = append(got, sub.Take()...)
		}
		time.Sleep(100 * time.Millisecond)
		got = append(got, sub.Take()...)
	}
	want := 0
	for i, st := range streamLife() {
		if _, err := n.Process(ctx, st.r); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if st.want != nil {
			want++
		}
		wait(want)
		if len(got) != want {
			t.Fatalf("after step %d (%s): %d messages, want %d", i, st.r.EventID, len(got), want)
		}
		if st.want == nil {
			continue
		}
		m := got[want-1]
		var body feedMessage
		if err := json.Unmarshal([]byte(m.Message), &body); err != nil {
			t.Fatalf("step %d: message %q is not the feed's JSON: %v", i, m.Message, err)
		}
		w := st.want
		if body.StreamID != feedStream || body.SimulcastTargetID != w.target || body.PreviousStatus != w.previous || body.Status != w.status ||
			body.EventID != st.r.EventID || body.Type != st.r.Type || body.OccurredAt != st.r.OccurredAt ||
			body.Workspace.ID != "ws-dev" || body.Workspace.Name != "Development" || body.Test == nil || *body.Test {
			t.Errorf("step %d: message %s, want %+v of %s", i, m.Message, *w, st.r.EventID)
		}
		attrs := map[string]string{}
		for k, a := range m.MessageAttributes {
			if a.Type != "String" {
				t.Errorf("step %d: attribute %s of type %s", i, k, a.Type)
			}
			attrs[k] = a.Value
		}
		wantAttrs := map[string]string{"streamId": feedStream, "workspaceId": "ws-dev", "status": w.status, "eventType": st.r.Type, "test": "false"}
		if w.target != "" {
			wantAttrs["simulcastTargetId"] = w.target
		}
		if fmt.Sprint(attrs) != fmt.Sprint(wantAttrs) {
			t.Errorf("step %d: attributes %v, want %v", i, attrs, wantAttrs)
		}
	}
}
