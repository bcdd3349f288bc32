package streamstate_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// countingClient counts the requests the store sends, per operation.
type countingClient struct {
	*dynamodb.Client
	updates, gets int
}

func (c *countingClient) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.updates++
	return c.Client.UpdateItem(ctx, in, opts...)
}

func (c *countingClient) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.gets++
	return c.Client.GetItem(ctx, in, opts...)
}

const (
	t1 = "2024-04-02T11:17:52.000000000Z"
	t2 = "2024-04-02T11:17:53.000000000Z"
	t3 = "2024-04-02T11:18:00.000000000Z"
)

type step struct {
	u        streamstate.Update
	wantErr  error // nil, or a sentinel
	requests int   // UpdateItem requests this step takes
}

func TestApplyAgainstDynamoDBLocal(t *testing.T) {
	const s = "stream-1"
	active := streamstate.Update{StreamID: s, Status: "active", EventID: "ev-b", EventType: "video.live_stream.active", OccurredAt: t2}
	disc := streamstate.Update{StreamID: s, Status: "disconnected", EventID: "ev-c", EventType: "video.live_stream.disconnected", OccurredAt: t3}
	target := func(tid, status, id, at string) streamstate.Update {
		return streamstate.Update{StreamID: s, SimulcastID: tid, Status: status, EventID: id, EventType: "video.live_stream.simulcast_target." + status, OccurredAt: at}
	}
	tests := []struct {
		name        string
		steps       []step
		wantStatus  string
		wantLastID  string
		wantTargets map[string]string // target id → status
	}{
		{
			name:       "in order",
			steps:      []step{{u: active, requests: 1}, {u: disc, requests: 1}},
			wantStatus: "disconnected", wantLastID: "ev-c", wantTargets: map[string]string{},
		},
		{
			name:       "older event after newer is stale",
			steps:      []step{{u: disc, requests: 1}, {u: active, wantErr: streamstate.ErrStale, requests: 1}},
			wantStatus: "disconnected", wantLastID: "ev-c", wantTargets: map[string]string{},
		},
		{
			name:       "same event twice is applied twice",
			steps:      []step{{u: active, requests: 1}, {u: active, requests: 1}},
			wantStatus: "active", wantLastID: "ev-b", wantTargets: map[string]string{},
		},
		{
			name: "same time: larger event id wins, smaller is stale",
			steps: []step{
				{u: streamstate.Update{StreamID: s, Status: "idle", EventID: "ev-z", EventType: "video.live_stream.idle", OccurredAt: t2}, requests: 1},
				{u: active, wantErr: streamstate.ErrStale, requests: 1},
			},
			wantStatus: "idle", wantLastID: "ev-z", wantTargets: map[string]string{},
		},
		{
			name: "targets after the stream's own event take one request each",
			steps: []step{
				{u: active, requests: 1},
				{u: target("t1", "starting", "ev-t1a", t2), requests: 1},
				{u: target("t1", "broadcasting", "ev-t1b", t3), requests: 1},
				{u: target("t2", "broadcasting", "ev-t2", t3), requests: 1},
			},
			wantStatus: "active", wantLastID: "ev-b", wantTargets: map[string]string{"t1": "broadcasting", "t2": "broadcasting"},
		},
		{
			name: "first target before any stream event creates the map",
			steps: []step{
				{u: target("t1", "broadcasting", "ev-t1b", t3), requests: 2},
				{u: target("t1", "starting", "ev-t1a", t2), wantErr: streamstate.ErrStale, requests: 1},
				{u: active, requests: 1},
			},
			wantStatus: "active", wantLastID: "ev-b", wantTargets: map[string]string{"t1": "broadcasting"},
		},
		{
			name: "a stale target event does not touch the stream or other targets",
			steps: []step{
				{u: disc, requests: 1},
				{u: target("t1", "broadcasting", "ev-t1b", t3), requests: 1},
				{u: target("t1", "starting", "ev-t1a", t1), wantErr: streamstate.ErrStale, requests: 1},
				{u: target("t2", "starting", "ev-t2", t1), requests: 1},
			},
			wantStatus: "disconnected", wantLastID: "ev-c", wantTargets: map[string]string{"t1": "broadcasting", "t2": "starting"},
		},
	}
	ddb := testenv.DynamoDB(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := &countingClient{Client: ddb}
			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			store := &streamstate.Store{Client: client, Table: testenv.CreateTable(t, ddb, "StreamStateTable"), Now: func() time.Time { return now }}
			ctx := context.Background()
			for i, st := range tc.steps {
				before := client.updates
				_, err := store.Apply(ctx, st.u)
				if st.wantErr == nil && err != nil {
					t.Fatalf("step %d: Apply: %v", i, err)
				}
				if st.wantErr != nil && !errors.Is(err, st.wantErr) {
					t.Fatalf("step %d: Apply error %v, want %v", i, err, st.wantErr)
				}
				if got := client.updates - before; got != st.requests {
					t.Errorf("step %d: %d UpdateItem requests, want %d", i, got, st.requests)
				}
			}
			got, err := store.Get(ctx, s)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if got.StreamID != s || got.Status != tc.wantStatus || got.LastEventID != tc.wantLastID {
				t.Errorf("state = %+v, want status %q last event %q", got, tc.wantStatus, tc.wantLastID)
			}
			if got.UpdatedAt != "2026-01-02T03:04:05.000000000Z" {
				t.Errorf("updatedAt = %q", got.UpdatedAt)
			}
			if len(got.SimulcastTargets) != len(tc.wantTargets) {
				t.Errorf("targets = %+v, want %v", got.SimulcastTargets, tc.wantTargets)
			}
			for id, status := range tc.wantTargets {
				tg, ok := got.SimulcastTargets[id]
				if !ok || tg.Status != status || tg.LastOccurredAt == "" || tg.LastEventID == "" {
					t.Errorf("target %s = %+v (present %v), want status %q", id, tg, ok, status)
				}
			}
		})
	}
}

func TestGetNotFound(t *testing.T) {
	ddb := testenv.DynamoDB(t)
	store := &streamstate.Store{Client: ddb, Table: testenv.CreateTable(t, ddb, "StreamStateTable")}
	_, err := store.Get(context.Background(), "no-such-stream")
	if !errors.Is(err, streamstate.ErrNotFound) {
		t.Fatalf("Get = %v, want ErrNotFound", err)
	}
}

func TestApplyRejectsIncompleteUpdates(t *testing.T) {
	tests := []streamstate.Update{
		{EventID: "e", OccurredAt: t1},
		{StreamID: "s", OccurredAt: t1},
		{StreamID: "s", EventID: "e"},
	}
	for _, u := range tests {
		// No client: an invalid update must be refused before any request.
		store := &streamstate.Store{Table: "unused"}
		if _, err := store.Apply(context.Background(), u); !errors.Is(err, streamstate.ErrInvalid) || !errors.Is(err, streamstate.ErrUnprocessable) {
			t.Errorf("Apply(%+v) = %v, want ErrInvalid", u, err)
		}
	}
}
