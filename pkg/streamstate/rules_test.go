package streamstate_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

type rulesStore interface {
	streamstate.Applier
	streamstate.Reader
	streamstate.RulesStore
}

// The rules' memory in the stream's item: written only from the rev it was
// read at (a racing writer gets ErrConflict and the memory as it is, with
// no read), and given back whole with the next transition's write.
func TestRulesMemory(t *testing.T) {
	ddb := testenv.DynamoDB(t)
	ctx := context.Background()
	held := alertrules.Memory{
		LiveSince: time.Date(2024, 4, 2, 11, 0, 0, 0, time.UTC),
		Held:      &alertrules.Held{EventID: "d1", OccurredAt: time.Date(2024, 4, 2, 12, 0, 0, 0, time.UTC), PreviousStatus: "active"},
	}
	alerted := alertrules.Memory{Down: &alertrules.Down{Alert: alertrules.Alert{Kind: alertrules.KindDisconnected, EventID: "d1"}}}
	stores := map[string]rulesStore{
		"dynamodb": &streamstate.Store{Client: ddb, Table: testenv.CreateTable(t, ddb, "StreamStateTable")},
		"memory":   &streamstate.Memory{},
	}
	for name, store := range stores {
		t.Run(name, func(t *testing.T) {
			if _, err := store.LoadRules(ctx, "s"); !errors.Is(err, streamstate.ErrNotFound) {
				t.Errorf("LoadRules of an unknown stream: %v, want ErrNotFound", err)
			}
			if _, err := store.SaveRules(ctx, "s", held, 0); !errors.Is(err, streamstate.ErrNotFound) {
				t.Errorf("SaveRules of an unknown stream: %v, want ErrNotFound", err)
			}
			tr, err := store.Apply(ctx, streamstate.Update{StreamID: "s", Status: "active", Rank: 5, EventID: "a1", EventType: "video.live_stream.active", OccurredAt: t1})
			if err != nil {
				t.Fatal(err)
			}
			if tr.Rules.Rev != 0 || tr.Rules.Memory.Last != nil {
				t.Errorf("first transition's rules = %+v, want none", tr.Rules)
			}
			if _, err := store.Apply(ctx, streamstate.Update{StreamID: "s", SimulcastID: "t1", Status: "broadcasting", Rank: 3, EventID: "b1",
				EventType: "video.live_stream.simulcast_target.broadcasting", OccurredAt: t1}); err != nil {
				t.Fatal(err)
			}
			r, err := store.LoadRules(ctx, "s")
			if err != nil || r.Rev != 0 {
				t.Fatalf("LoadRules = %+v, %v; want rev 0", r, err)
			}
			saved, err := store.SaveRules(ctx, "s", held, 0)
			if err != nil || saved.Rev != 1 {
				t.Fatalf("SaveRules from rev 0 = %+v, %v", saved, err)
			}
			fresh, err := store.SaveRules(ctx, "s", alerted, 0)
			if !errors.Is(err, streamstate.ErrConflict) {
				t.Fatalf("a second SaveRules from rev 0: %v, want ErrConflict", err)
			}
			if fresh.Rev != 1 || fresh.Memory.Held == nil || fresh.Memory.Held.EventID != "d1" {
				t.Errorf("conflict returned %+v, want the held memory at rev 1", fresh)
			}
			if saved, err = store.SaveRules(ctx, "s", alerted, fresh.Rev); err != nil || saved.Rev != 2 {
				t.Fatalf("SaveRules from the fresh rev = %+v, %v", saved, err)
			}
			tr, err = store.Apply(ctx, streamstate.Update{StreamID: "s", Status: "disconnected", Rank: 6, EventID: "d2", EventType: "video.live_stream.disconnected", OccurredAt: t2})
			if err != nil {
				t.Fatal(err)
			}
			if tr.Previous != "active" || tr.Rules.Rev != 2 || tr.Rules.Memory.Down == nil || tr.Rules.Memory.Down.Alert.EventID != "d1" {
				t.Errorf("transition = %+v, want from active with the alerted memory at rev 2", tr)
			}
			if tg, ok := tr.Targets["t1"]; !ok || tg.Status != "broadcasting" {
				t.Errorf("transition's targets = %+v, want t1 broadcasting", tr.Targets)
			}
			st, err := store.Get(ctx, "s")
			if err != nil {
				t.Fatal(err)
			}
			if st.Alerting == nil || st.Alerting.Down == nil || st.Alerting.Down.Alert.EventID != "d1" {
				t.Errorf("state's alerting = %+v", st.Alerting)
			}
		})
	}
}

// A memory that cannot be read is forgotten, not fatal: the stream's alerts
// go on, and the next write is still conditional on its rev.
func TestRulesMemoryUnreadable(t *testing.T) {
	ddb := testenv.DynamoDB(t)
	ctx := context.Background()
	store := &streamstate.Store{Client: ddb, Table: testenv.CreateTable(t, ddb, "StreamStateTable")}
	if _, err := store.Apply(ctx, streamstate.Update{StreamID: "s", Status: "active", Rank: 5, EventID: "a1", EventType: "video.live_stream.active", OccurredAt: t1}); err != nil {
		t.Fatal(err)
	}
	if _, err := ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(store.Table), Key: map[string]types.AttributeValue{"streamId": &types.AttributeValueMemberS{Value: "s"}},
		UpdateExpression: aws.String("SET alerting = :a, alertingRev = :r"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":a": &types.AttributeValueMemberS{Value: `{"held":`}, ":r": &types.AttributeValueMemberN{Value: "7"},
		},
	}); err != nil {
		t.Fatal(err)
	}
	r, err := store.LoadRules(ctx, "s")
	if err != nil || r.Rev != 7 || r.Memory.Held != nil {
		t.Fatalf("LoadRules = %+v, %v; want an empty memory at rev 7", r, err)
	}
	if _, err := store.SaveRules(ctx, "s", alertrules.Memory{}, 6); !errors.Is(err, streamstate.ErrConflict) {
		t.Errorf("SaveRules from a wrong rev: %v, want ErrConflict", err)
	}
	if _, err := store.SaveRules(ctx, "s", alertrules.Memory{}, 7); err != nil {
		t.Errorf("SaveRules from its rev: %v", err)
	}
}
