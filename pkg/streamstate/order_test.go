package streamstate_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// at is a time t0 + d in the state's layout.
func at(d time.Duration) string {
	return time.Date(2024, 4, 2, 11, 17, 52, 0, time.UTC).Add(d).Format("2006-01-02T15:04:05.000000000Z")
}

func transition(id, action string, rank int, when time.Duration) streamstate.Update {
	return streamstate.Update{StreamID: "s", Status: action, Rank: rank, EventID: id, EventType: "video.live_stream." + action, OccurredAt: at(when)}
}

func info(id, action string, when time.Duration) streamstate.Update {
	return streamstate.Update{StreamID: "s", Info: true, EventID: id, EventType: "video.live_stream." + action, OccurredAt: at(when)}
}

func targetUpdate(tid, id, action string, rank int, when time.Duration) streamstate.Update {
	return streamstate.Update{StreamID: "s", SimulcastID: tid, Status: action, Rank: rank, Delete: action == "deleted",
		EventID: id, EventType: "video.live_stream.simulcast_target." + action, OccurredAt: at(when)}
}

type orderStep struct {
	u       streamstate.Update
	wantErr error
	want    streamstate.Transition
}

// The order rules, run against DynamoDB Local and against the in-memory
// rule a dry run uses: both must give the same answers and states.
func TestStatusOrder(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name       string
		steps      []orderStep
		wantStatus string
		wantLastID string
		wantDetail string
		wantTarget map[string]string
	}{
		{
			name: "a newer recording does not make an older active stale",
			steps: []orderStep{
				{u: transition("c", "connected", 4, 0), want: streamstate.Transition{Current: "connected"}},
				{u: info("r", "recording", 20*ms)},
				{u: transition("a", "active", 5, 10*ms), want: streamstate.Transition{Previous: "connected", Current: "active"}},
			},
			wantStatus: "active", wantLastID: "a", wantDetail: "r", wantTarget: map[string]string{},
		},
		{
			name: "a newer update does not swallow a disconnect",
			steps: []orderStep{
				{u: transition("a", "active", 5, 0), want: streamstate.Transition{Current: "active"}},
				{u: info("u", "updated", 2*time.Second)},
				{u: transition("d", "disconnected", 6, time.Second), want: streamstate.Transition{Previous: "active", Current: "disconnected"}},
			},
			wantStatus: "disconnected", wantLastID: "d", wantDetail: "u", wantTarget: map[string]string{},
		},
		{
			name: "a transition does not make an older information event stale",
			steps: []orderStep{
				{u: transition("d", "disconnected", 6, time.Second), want: streamstate.Transition{Current: "disconnected"}},
				{u: info("u", "updated", 0)},
				{u: info("u0", "updated", -time.Second), wantErr: streamstate.ErrStale},
			},
			wantStatus: "disconnected", wantLastID: "d", wantDetail: "u", wantTarget: map[string]string{},
		},
		{
			name: "same createdAt: the lifecycle's order, not the event id",
			steps: []orderStep{
				{u: transition("ev-a", "disconnected", 6, 0), want: streamstate.Transition{Current: "disconnected"}},
				{u: transition("ev-z", "active", 5, 0), wantErr: streamstate.ErrStale},
			},
			wantStatus: "disconnected", wantLastID: "ev-a", wantTarget: map[string]string{},
		},
		{
			name: "same createdAt and rank: the event id",
			steps: []orderStep{
				{u: transition("ev-z", "active", 5, 0), want: streamstate.Transition{Current: "active"}},
				{u: transition("ev-a", "active", 5, 0), wantErr: streamstate.ErrStale},
				{u: transition("ev-z", "active", 5, 0), want: streamstate.Transition{Current: "active", Repeated: true}},
			},
			wantStatus: "active", wantLastID: "ev-z", wantTarget: map[string]string{},
		},
		{
			name: "a deleted target's entry is removed; an older event of it is stale before",
			steps: []orderStep{
				{u: transition("a", "active", 5, 0), want: streamstate.Transition{Current: "active"}},
				{u: targetUpdate("t1", "t1b", "broadcasting", 3, time.Second), want: streamstate.Transition{Current: "broadcasting"}},
				{u: targetUpdate("t2", "t2b", "broadcasting", 3, time.Second), want: streamstate.Transition{Current: "broadcasting"}},
				{u: targetUpdate("t1", "t1s", "starting", 2, 500*ms), wantErr: streamstate.ErrStale},
				{u: targetUpdate("t1", "t1d", "deleted", 9, 2*time.Second), want: streamstate.Transition{Previous: "broadcasting", Current: "deleted"}},
			},
			wantStatus: "active", wantLastID: "a", wantTarget: map[string]string{"t2": "broadcasting"},
		},
		{
			name: "the same event again is told apart from a change to the same status",
			steps: []orderStep{
				{u: transition("c1", "connected", 4, 0), want: streamstate.Transition{Current: "connected"}},
				{u: transition("i2", "idle", 7, time.Second), want: streamstate.Transition{Previous: "connected", Current: "idle"}},
				// Again: what it replaced the first time, still.
				{u: transition("i2", "idle", 7, time.Second), want: streamstate.Transition{Previous: "connected", Current: "idle", Repeated: true}},
				{u: transition("i3", "idle", 7, 2*time.Second), want: streamstate.Transition{Previous: "idle", Current: "idle"}},
				{u: transition("i3", "idle", 7, 2*time.Second), want: streamstate.Transition{Previous: "idle", Current: "idle", Repeated: true}},
				{u: transition("i2", "idle", 7, time.Second), wantErr: streamstate.ErrStale},
				{u: targetUpdate("t1", "t1s", "starting", 2, time.Second), want: streamstate.Transition{Current: "starting"}},
				{u: targetUpdate("t1", "t1s", "starting", 2, time.Second), want: streamstate.Transition{Previous: "starting", Current: "starting", Repeated: true}},
				{u: targetUpdate("t1", "t1b", "broadcasting", 3, 2*time.Second), want: streamstate.Transition{Previous: "starting", Current: "broadcasting"}},
				{u: targetUpdate("t1", "t1d", "deleted", 9, 3*time.Second), want: streamstate.Transition{Previous: "broadcasting", Current: "deleted"}},
			},
			wantStatus: "idle", wantLastID: "i3", wantTarget: map[string]string{},
		},
		{
			name: "target ties by the lifecycle",
			steps: []orderStep{
				{u: targetUpdate("t1", "z-b", "broadcasting", 3, time.Second), want: streamstate.Transition{Current: "broadcasting"}},
				{u: targetUpdate("t1", "a-s", "starting", 2, time.Second), wantErr: streamstate.ErrStale},
			},
			wantTarget: map[string]string{"t1": "broadcasting"},
		},
	}
	ddb := testenv.DynamoDB(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			stores := map[string]applier{
				"dynamodb": &streamstate.Store{Client: ddb, Table: testenv.CreateTable(t, ddb, "StreamStateTable")},
				"memory":   &inMemory{st: streamstate.State{StreamID: "s"}},
			}
			for name, store := range stores {
				for i, st := range tc.steps {
					got, err := store.Apply(ctx, st.u)
					if (st.wantErr == nil) != (err == nil) || (st.wantErr != nil && !errors.Is(err, st.wantErr)) {
						t.Fatalf("%s: step %d (%s): error %v, want %v", name, i, st.u.EventID, err, st.wantErr)
					}
					if got != st.want {
						t.Errorf("%s: step %d (%s): transition %+v, want %+v", name, i, st.u.EventID, got, st.want)
					}
				}
				state, err := store.Get(ctx, "s")
				if err != nil {
					t.Fatalf("%s: Get: %v", name, err)
				}
				targets := map[string]string{}
				for id, tg := range state.SimulcastTargets {
					targets[id] = tg.Status
				}
				if state.Status != tc.wantStatus || state.LastEventID != tc.wantLastID || state.DetailEventID != tc.wantDetail || !reflect.DeepEqual(targets, tc.wantTarget) {
					t.Errorf("%s: state %s by %q, detail %q, targets %v; want %s by %q, detail %q, targets %v", name,
						state.Status, state.LastEventID, state.DetailEventID, targets, tc.wantStatus, tc.wantLastID, tc.wantDetail, tc.wantTarget)
				}
			}
		})
	}
}

// A stream with more simulcast targets than the bound: the item stays
// writable, the targets beyond the bound are refused as unprocessable, the
// tracked ones keep moving, and a deletion frees a place.
func TestSimulcastTargetBound(t *testing.T) {
	ddb := testenv.DynamoDB(t)
	ctx := context.Background()
	long := strings.Repeat("x", streamstate.MaxTargetFieldBytes)
	mem := &inMemory{st: streamstate.State{StreamID: "s"}}
	for i := range streamstate.MaxSimulcastTargets {
		tid := fmt.Sprintf("%s-%04d", long[:streamstate.MaxTargetFieldBytes-5], i)
		if _, err := mem.Apply(ctx, targetUpdate(tid, tid, "broadcasting", 3, time.Second)); err != nil {
			t.Fatalf("target %d: %v", i, err)
		}
	}
	// The crowded item, written to DynamoDB Local: it fits, and the bound
	// holds on it as in memory.
	store := &streamstate.Store{Client: ddb, Table: testenv.CreateTable(t, ddb, "StreamStateTable")}
	full := mem.st
	if err := store.Save(ctx, &full); err != nil {
		t.Fatalf("an item at the bound: %v", err)
	}
	for name, store := range map[string]applier{"dynamodb": store, "memory": mem} {
		_, err := store.Apply(ctx, targetUpdate("one-too-many", "e-new", "broadcasting", 3, time.Second))
		if !errors.Is(err, streamstate.ErrTooManyTargets) || !errors.Is(err, streamstate.ErrUnprocessable) {
			t.Fatalf("%s: target beyond the bound: %v, want ErrTooManyTargets", name, err)
		}
		first := fmt.Sprintf("%s-%04d", long[:streamstate.MaxTargetFieldBytes-5], 0)
		if _, err := store.Apply(ctx, targetUpdate(first, "e-del", "deleted", 9, 2*time.Second)); err != nil {
			t.Fatalf("%s: delete: %v", name, err)
		}
		if _, err := store.Apply(ctx, targetUpdate("one-too-many", "e-new", "broadcasting", 3, time.Second)); err != nil {
			t.Fatalf("%s: a new target once one was deleted: %v", name, err)
		}
		if _, err := store.Apply(ctx, transition("a", "active", 5, 0)); err != nil {
			t.Fatalf("%s: the stream's own status at the bound: %v", name, err)
		}
		st, _ := store.Get(ctx, "s")
		if len(st.SimulcastTargets) != streamstate.MaxSimulcastTargets || st.Status != "active" {
			t.Errorf("%s: %d targets, status %q", name, len(st.SimulcastTargets), st.Status)
		}
		// Fields beyond the bound are refused before any request.
		_, err = store.Apply(ctx, targetUpdate(long+"y", "e", "broadcasting", 3, 0))
		if !errors.Is(err, streamstate.ErrUnprocessable) {
			t.Errorf("%s: oversized target id: %v, want ErrUnprocessable", name, err)
		}
	}
}

// applier applies updates to a stream's state and reads it back.
type applier interface {
	Apply(ctx context.Context, u streamstate.Update) (streamstate.Transition, error)
	Get(ctx context.Context, streamID string) (streamstate.State, error)
}

// inMemory applies updates to one state in memory (State.Apply), as the
// notifier does before it writes the item.
type inMemory struct{ st streamstate.State }

func (m *inMemory) Apply(_ context.Context, u streamstate.Update) (streamstate.Transition, error) {
	return m.st.Apply(u)
}

func (m *inMemory) Get(context.Context, string) (streamstate.State, error) { return m.st, nil }

// validationClient answers every PutItem as DynamoDB answers an item over
// 400 KB.
type validationClient struct{ *dynamodb.Client }

func (validationClient) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "ValidationException", Message: "Item size has exceeded the maximum allowed size"}
}

// What DynamoDB refuses as invalid is unprocessable, never a retry.
func TestValidationIsUnprocessable(t *testing.T) {
	ddb := testenv.DynamoDB(t)
	ctx := context.Background()
	// DynamoDB Local's own answer to an item over 400 KB.
	real := &streamstate.Store{Client: ddb, Table: testenv.CreateTable(t, ddb, "StreamStateTable")}
	huge := transition("h", "active", 5, 0)
	huge.EventType = strings.Repeat("t", 410*1024)
	if _, err := real.Apply(ctx, huge); !errors.Is(err, streamstate.ErrUnprocessable) {
		t.Errorf("item over 400 KB in DynamoDB Local: %v, want ErrUnprocessable", err)
	}
	fake := &streamstate.Store{Client: validationClient{ddb}, Table: testenv.CreateTable(t, ddb, "StreamStateTable")}
	for _, u := range []streamstate.Update{transition("a", "active", 5, 0), info("r", "recording", 0), targetUpdate("t1", "b", "broadcasting", 3, 0)} {
		if _, err := fake.Apply(ctx, u); !errors.Is(err, streamstate.ErrUnprocessable) {
			t.Errorf("%s: %v, want ErrUnprocessable", u.EventID, err)
		}
	}
}
