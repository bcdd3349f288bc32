package notify_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// fakeState records updates and answers with err.
type fakeState struct {
	got []streamstate.Update
	err error
}

func (f *fakeState) Apply(_ context.Context, u streamstate.Update) (streamstate.Transition, error) {
	f.got = append(f.got, u)
	if f.err != nil {
		return streamstate.Transition{}, f.err
	}
	return streamstate.Transition{Current: u.Status}, nil
}

type published struct {
	topic string
	m     alerts.Message
}

type fakePublisher struct {
	got []published
	err error
}

func (f *fakePublisher) Publish(_ context.Context, topic string, m alerts.Message) error {
	f.got = append(f.got, published{topic, m})
	return f.err
}

var routes = alerts.Routes{
	"video.live_stream.active":                        "arn:aws:sns:us-east-1:1:Live",
	"video.live_stream.disconnected":                  "arn:aws:sns:us-east-1:1:Down",
	"video.live_stream.simulcast.broadcasting":        "arn:aws:sns:us-east-1:1:Simulcast",
	"video.live_stream.simulcast_target.broadcasting": "arn:aws:sns:us-east-1:1:Simulcast",
}

func rec(typ string) eventstore.Record {
	return eventstore.Record{
		EventID: "ev-1", Type: typ, StreamID: "stream-1", WorkspaceID: "ws-1", WorkspaceName: "Dev",
		OccurredAt: "2024-04-02T11:17:52.000000000Z", Payload: `{"id":"ev-1","type":"` + typ + `","data":{"status":"idle"}}`,
	}
}

func TestProcess(t *testing.T) {
	stale := fmt.Errorf("wrapped: %w", streamstate.ErrStale)
	simulcast := rec("video.live_stream.simulcast_target.broadcasting")
	simulcast.SimulcastID = "target-1"
	oldSpelling := rec("video.live_stream.simulcast.broadcasting")
	oldSpelling.SimulcastID = "target-2"
	targetless := rec("video.live_stream.simulcast.broadcasting")
	test := rec("video.live_stream.active")
	test.Test = true
	media := rec("video.media.live_stream.ready")
	noStream := rec("video.media.ready")
	noStream.StreamID = ""

	tests := []struct {
		name      string
		r         eventstore.Record
		stateErr  error
		pubErr    error
		skipTests bool
		routes    alerts.Routes

		wantOutcome notify.Outcome
		wantErr     error
		wantUpdate  *streamstate.Update // nil: no state update
		wantTopic   string              // "": no publish
	}{
		{
			name: "active is published to the live topic", r: rec("video.live_stream.active"),
			wantOutcome: notify.Published, wantTopic: "arn:aws:sns:us-east-1:1:Live",
			wantUpdate: &streamstate.Update{StreamID: "stream-1", Status: "active", Rank: 5, EventID: "ev-1", EventType: "video.live_stream.active", OccurredAt: "2024-04-02T11:17:52.000000000Z", WorkspaceID: "ws-1"},
		},
		{
			name: "disconnected is published to the down topic", r: rec("video.live_stream.disconnected"),
			wantOutcome: notify.Published, wantTopic: "arn:aws:sns:us-east-1:1:Down",
			wantUpdate: &streamstate.Update{StreamID: "stream-1", Status: "disconnected", Rank: 6, EventID: "ev-1", EventType: "video.live_stream.disconnected", OccurredAt: "2024-04-02T11:17:52.000000000Z", WorkspaceID: "ws-1"},
		},
		{
			name: "simulcast target broadcasting updates the target", r: simulcast,
			wantOutcome: notify.Published, wantTopic: "arn:aws:sns:us-east-1:1:Simulcast",
			wantUpdate: &streamstate.Update{StreamID: "stream-1", SimulcastID: "target-1", Status: "broadcasting", Rank: 3, EventID: "ev-1", EventType: simulcast.Type, OccurredAt: simulcast.OccurredAt},
		},
		{
			name: "older simulcast spelling too", r: oldSpelling,
			wantOutcome: notify.Published, wantTopic: "arn:aws:sns:us-east-1:1:Simulcast",
			wantUpdate: &streamstate.Update{StreamID: "stream-1", SimulcastID: "target-2", Status: "broadcasting", Rank: 3, EventID: "ev-1", EventType: oldSpelling.Type, OccurredAt: oldSpelling.OccurredAt},
		},
		{
			name: "stale notable is suppressed", r: rec("video.live_stream.active"), stateErr: stale,
			wantOutcome: notify.Suppressed,
			wantUpdate:  &streamstate.Update{StreamID: "stream-1", Status: "active", Rank: 5, EventID: "ev-1", EventType: "video.live_stream.active", OccurredAt: "2024-04-02T11:17:52.000000000Z", WorkspaceID: "ws-1"},
		},
		{
			name: "non-notable takes its status from the payload", r: rec("video.live_stream.created"),
			wantOutcome: notify.Recorded,
			wantUpdate:  &streamstate.Update{StreamID: "stream-1", Status: "idle", Rank: 1, EventID: "ev-1", EventType: "video.live_stream.created", OccurredAt: "2024-04-02T11:17:52.000000000Z", WorkspaceID: "ws-1"},
		},
		{
			name: "stale non-notable", r: rec("video.live_stream.idle"), stateErr: stale,
			wantOutcome: notify.Stale,
			wantUpdate:  &streamstate.Update{StreamID: "stream-1", Status: "idle", Rank: 7, EventID: "ev-1", EventType: "video.live_stream.idle", OccurredAt: "2024-04-02T11:17:52.000000000Z", WorkspaceID: "ws-1"},
		},
		{
			name: "idle becomes notable by configuration", r: rec("video.live_stream.idle"),
			routes:      alerts.Routes{"video.live_stream.idle": "arn:aws:sns:us-east-1:1:Ops"},
			wantOutcome: notify.Published, wantTopic: "arn:aws:sns:us-east-1:1:Ops",
			wantUpdate: &streamstate.Update{StreamID: "stream-1", Status: "idle", Rank: 7, EventID: "ev-1", EventType: "video.live_stream.idle", OccurredAt: "2024-04-02T11:17:52.000000000Z", WorkspaceID: "ws-1"},
		},
		{
			name: "test stream published by default", r: test,
			wantOutcome: notify.Published, wantTopic: "arn:aws:sns:us-east-1:1:Live",
			wantUpdate: &streamstate.Update{StreamID: "stream-1", Status: "active", Rank: 5, EventID: "ev-1", EventType: "video.live_stream.active", OccurredAt: "2024-04-02T11:17:52.000000000Z", WorkspaceID: "ws-1"},
		},
		{
			name: "test stream skipped when configured", r: test, skipTests: true,
			wantOutcome: notify.TestSkipped,
			wantUpdate:  &streamstate.Update{StreamID: "stream-1", Status: "active", Rank: 5, EventID: "ev-1", EventType: "video.live_stream.active", OccurredAt: "2024-04-02T11:17:52.000000000Z", WorkspaceID: "ws-1"},
		},
		{name: "simulcast event without a target is untracked, never alerted", r: targetless, wantOutcome: notify.Untracked},
		{
			name: "an update the store can never apply is unprocessable", r: rec("video.live_stream.active"),
			stateErr: fmt.Errorf("wrapped: %w", streamstate.ErrUnprocessable), wantErr: notify.ErrUnprocessable,
			wantUpdate: &streamstate.Update{StreamID: "stream-1", Status: "active", Rank: 5, EventID: "ev-1", EventType: "video.live_stream.active", OccurredAt: "2024-04-02T11:17:52.000000000Z", WorkspaceID: "ws-1"},
		},
		{
			name: "a target beyond the bound is untracked, never alerted", r: simulcast,
			stateErr: fmt.Errorf("wrapped: %w: %w", streamstate.ErrTooManyTargets, streamstate.ErrUnprocessable), wantOutcome: notify.Untracked,
			wantUpdate: &streamstate.Update{StreamID: "stream-1", SimulcastID: "target-1", Status: "broadcasting", Rank: 3, EventID: "ev-1", EventType: simulcast.Type, OccurredAt: simulcast.OccurredAt},
		},
		{name: "recording media event changes no state", r: media, wantOutcome: notify.Recorded},
		{name: "event of no stream", r: noStream, wantOutcome: notify.Recorded},
		{
			name: "state store down", r: rec("video.live_stream.active"), stateErr: errors.New("throttled"),
			wantErr:    notify.ErrState,
			wantUpdate: &streamstate.Update{StreamID: "stream-1", Status: "active", Rank: 5, EventID: "ev-1", EventType: "video.live_stream.active", OccurredAt: "2024-04-02T11:17:52.000000000Z", WorkspaceID: "ws-1"},
		},
		{
			name: "SNS down", r: rec("video.live_stream.active"), pubErr: alerts.ErrPublish,
			wantErr: notify.ErrPublish, wantTopic: "arn:aws:sns:us-east-1:1:Live",
			wantUpdate: &streamstate.Update{StreamID: "stream-1", Status: "active", Rank: 5, EventID: "ev-1", EventType: "video.live_stream.active", OccurredAt: "2024-04-02T11:17:52.000000000Z", WorkspaceID: "ws-1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state := &fakeState{err: tc.stateErr}
			pub := &fakePublisher{err: tc.pubErr}
			r := routes
			if tc.routes != nil {
				r = tc.routes
			}
			n := &notify.Notifier{State: state, Publisher: pub, Routes: r, SkipTestEvents: tc.skipTests,
				Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
			res, err := n.Process(context.Background(), tc.r)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatalf("Process: %v", err)
			} else if res.Outcome != tc.wantOutcome {
				t.Errorf("outcome = %s, want %s", res.Outcome, tc.wantOutcome)
			}
			switch {
			case tc.wantUpdate == nil && len(state.got) != 0:
				t.Errorf("state updates %+v, want none", state.got)
			case tc.wantUpdate != nil && (len(state.got) != 1 || state.got[0] != *tc.wantUpdate):
				t.Errorf("state updates %+v, want one %+v", state.got, *tc.wantUpdate)
			}
			switch {
			case tc.wantTopic == "" && len(pub.got) != 0:
				t.Errorf("published %+v, want nothing", pub.got)
			case tc.wantTopic != "" && (len(pub.got) != 1 || pub.got[0].topic != tc.wantTopic):
				t.Errorf("published %+v, want one to %s", pub.got, tc.wantTopic)
			case tc.wantTopic != "":
				m := pub.got[0].m
				if m.Attributes["eventType"] != tc.r.Type || m.Attributes["test"] != fmt.Sprint(tc.r.Test) {
					t.Errorf("attributes = %v", m.Attributes)
				}
			}
		})
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		typ, payload, want string
	}{
		{"video.live_stream.active", `{"data":{"status":"idle"}}`, "active"},
		{"video.live_stream.disconnected", `{"status":"active"}`, "disconnected"},
		{"video.live_stream.created", `{"id":"e","type":"video.live_stream.created","data":{"status":"idle"}}`, "idle"},
		{"video.live_stream.updated", `{"id":"e","type":"video.live_stream.updated","status":"active"}`, "active"},
		{"video.live_stream.recording", `not json`, "recording"},
		{"video.live_stream.enabled", `{"id":"e","type":"video.live_stream.enabled"}`, "enabled"},
		{"video.live_stream.simulcast_target.starting", `{"id":"e","type":"x","data":{"status":"active"}}`, "starting"},
	}
	for _, tc := range tests {
		r := eventstore.Record{Type: tc.typ, Payload: tc.payload}
		if got := notify.Status(r); got != tc.want {
			t.Errorf("Status(%s, %s) = %q, want %q", tc.typ, tc.payload, got, tc.want)
		}
	}
}
