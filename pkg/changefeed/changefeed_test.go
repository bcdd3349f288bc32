package changefeed_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"testing"

	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/changefeed"
)

// fakePublisher keeps what the feed hands the alerts' publisher.
type fakePublisher struct {
	topics []string
	got    []alerts.Message
	err    error
}

func (f *fakePublisher) Publish(_ context.Context, topic string, m alerts.Message) error {
	f.topics = append(f.topics, topic)
	f.got = append(f.got, m)
	return f.err
}

const (
	stream = "a2ae2143-62a1-4eee-b888-4f1406148481"
	target = "5d7b3a52-a8a1-4c51-9d1e-3b1b2c8f0e11"
	ws     = "ws-1"
	at     = "2024-04-02T11:17:52.722812836Z"
)

func TestPublish(t *testing.T) {
	const topic = "arn:aws:sns:us-east-1:1:StreamChangesTopic"
	tests := []struct {
		name      string
		change    changefeed.Change
		wantBody  map[string]any
		wantAttrs map[string]string
	}{
		{
			name: "stream goes live",
			change: changefeed.Change{StreamID: stream, WorkspaceID: ws, WorkspaceName: "Development", PreviousStatus: "connected",
				Status: "active", EventID: "ev-3", EventType: "video.live_stream.active", OccurredAt: at},
			wantBody: map[string]any{"streamId": stream, "workspace": map[string]any{"id": ws, "name": "Development"},
				"previousStatus": "connected", "status": "active", "eventId": "ev-3", "type": "video.live_stream.active",
				"occurredAt": at, "test": false},
			wantAttrs: map[string]string{"streamId": stream, "workspaceId": ws, "status": "active",
				"eventType": "video.live_stream.active", "test": "false"},
		},
		{
			name: "a simulcast target starts broadcasting on a test stream",
			change: changefeed.Change{StreamID: stream, SimulcastTargetID: target, WorkspaceID: ws, PreviousStatus: "starting",
				Status: "broadcasting", EventID: "ev-5", EventType: "video.live_stream.simulcast.broadcasting", OccurredAt: at, Test: true},
			wantBody: map[string]any{"streamId": stream, "simulcastTargetId": target, "workspace": map[string]any{"id": ws},
				"previousStatus": "starting", "status": "broadcasting", "eventId": "ev-5",
				"type": "video.live_stream.simulcast.broadcasting", "occurredAt": at, "test": true},
			wantAttrs: map[string]string{"streamId": stream, "simulcastTargetId": target, "workspaceId": ws,
				"status": "broadcasting", "eventType": "video.live_stream.simulcast.broadcasting", "test": "true"},
		},
		{
			// The first change of a stream replaces nothing, and an older
			// envelope may name no workspace: SNS refuses empty attribute
			// values, so those attributes are absent, not empty.
			name:   "first change, no workspace",
			change: changefeed.Change{StreamID: stream, Status: "created", EventID: "ev-1", EventType: "video.live_stream.created", OccurredAt: at},
			wantBody: map[string]any{"streamId": stream, "workspace": map[string]any{}, "status": "created", "eventId": "ev-1",
				"type": "video.live_stream.created", "occurredAt": at, "test": false},
			wantAttrs: map[string]string{"streamId": stream, "status": "created", "eventType": "video.live_stream.created", "test": "false"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakePublisher{}
			feed := &changefeed.Feed{Publisher: f, TopicARN: topic}
			if err := feed.Publish(context.Background(), tc.change); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			if len(f.got) != 1 || f.topics[0] != topic {
				t.Fatalf("published to %v, want once to %s", f.topics, topic)
			}
			m := f.got[0]
			// The default JSON only: no email or SMS rendering, no subject.
			if m.Email != "" || m.SMS != "" || m.Subject != "" {
				t.Errorf("message has renderings other than default: %+v", m)
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(m.Default), &body); err != nil {
				t.Fatalf("message %q is not JSON: %v", m.Default, err)
			}
			gotBody, _ := json.Marshal(body)
			wantBody, _ := json.Marshal(tc.wantBody)
			if string(gotBody) != string(wantBody) {
				t.Errorf("message\n got %s\nwant %s", gotBody, wantBody)
			}
			for name, v := range m.Attributes {
				if v == "" {
					t.Errorf("attribute %s is empty: SNS refuses it", name)
				}
			}
			if !maps.Equal(m.Attributes, tc.wantAttrs) {
				t.Errorf("attributes\n got %v\nwant %v", m.Attributes, tc.wantAttrs)
			}
			// What a subscriber decodes is the change that was published.
			if back, err := changefeed.Decode(m.Default); err != nil || back != tc.change {
				t.Errorf("Decode = %+v, %v; want %+v", back, err, tc.change)
			}
		})
	}
}

func TestPublishFails(t *testing.T) {
	f := &fakePublisher{err: fmt.Errorf("%w: connection refused", alerts.ErrPublish)}
	feed := &changefeed.Feed{Publisher: f, TopicARN: "arn:aws:sns:us-east-1:1:T"}
	err := feed.Publish(context.Background(), changefeed.Change{StreamID: stream, Status: "idle", EventID: "ev-9", OccurredAt: at})
	if !errors.Is(err, alerts.ErrPublish) {
		t.Fatalf("Publish = %v, want alerts.ErrPublish", err)
	}
}

func TestDecodeRefusesOtherMessages(t *testing.T) {
	for _, m := range []string{"", "not json", `{"default":"{}"}`, `{"streamId":"s"}`, `{"status":"idle"}`, `[]`} {
		if c, err := changefeed.Decode(m); err == nil {
			t.Errorf("Decode(%q) = %+v, want an error", m, c)
		}
	}
}
