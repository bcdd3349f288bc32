package streamstate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// racingClient runs between a target update whose condition failed and
// the read that follows it: what another event of the same stream, in a
// batch running at the same time, does in that moment.
type racingClient struct {
	countingClient
	between func()
}

func (c *racingClient) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	out, err := c.countingClient.UpdateItem(ctx, in, opts...)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) && c.between != nil {
		c.between()
		c.between = nil
	}
	return out, err
}

// TestTargetUpdateRacingTheStream: a target's update fails its condition
// because the stream has no item yet, and before the read that tells why,
// another event of the stream makes the item. The read then shows an item
// without the target (which alone would mean "the map is full") or with an
// older entry of the target (which alone would mean "stale"): neither
// explains the failure, so the update is tried again, and applies.
func TestTargetUpdateRacingTheStream(t *testing.T) {
	const s = "stream-race"
	broadcasting := streamstate.Update{StreamID: s, SimulcastID: "t1", Status: "broadcasting", EventID: "ev-t1b", EventType: "video.live_stream.simulcast_target.broadcasting", OccurredAt: t3}
	tests := []struct {
		name    string
		between streamstate.Update // applied between the failed update and the read
		updates int                // UpdateItem requests of the racing Apply
	}{
		{"the stream's own first event makes the item",
			streamstate.Update{StreamID: s, Status: "active", EventID: "ev-a", EventType: "video.live_stream.active", OccurredAt: t1}, 2},
		{"an older event of the same target makes the entry",
			streamstate.Update{StreamID: s, SimulcastID: "t1", Status: "starting", EventID: "ev-t1a", EventType: "video.live_stream.simulcast_target.starting", OccurredAt: t1}, 2},
	}
	ddb := testenv.DynamoDB(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			table := testenv.CreateTable(t, ddb, "StreamStateTable")
			other := &streamstate.Store{Client: ddb, Table: table}
			client := &racingClient{countingClient: countingClient{Client: ddb}}
			client.between = func() {
				if _, err := other.Apply(context.Background(), tc.between); err != nil {
					t.Errorf("the racing event: %v", err)
				}
			}
			store := &streamstate.Store{Client: client, Table: table}
			if _, err := store.Apply(context.Background(), broadcasting); err != nil {
				t.Fatalf("Apply: %v, want the target applied", err)
			}
			if client.updates != tc.updates {
				t.Errorf("%d UpdateItem requests, want %d", client.updates, tc.updates)
			}
			st, err := store.Get(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.SimulcastTargets["t1"]; got.Status != "broadcasting" || got.LastEventID != "ev-t1b" {
				t.Errorf("target t1 = %+v, want broadcasting by ev-t1b", got)
			}
		})
	}
}
