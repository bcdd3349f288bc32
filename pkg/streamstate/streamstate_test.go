package streamstate_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

const (
	t1 = "2024-04-02T11:17:52.000000000Z"
	t2 = "2024-04-02T11:17:53.000000000Z"
)

func newStore(t *testing.T) (*streamstate.Store, *dynamodb.Client, string) {
	t.Helper()
	ddb := testenv.DynamoDB(t)
	table := testenv.CreateTable(t, ddb, "StreamStateTable")
	return &streamstate.Store{Client: ddb, Table: table, Now: func() time.Time { return time.Date(2024, 4, 2, 12, 0, 0, 0, time.UTC) }}, ddb, table
}

// A state is written whole and read back whole: status, targets, the alert
// rules' memory, the log position, the recent events, what is pending and
// who sends it.
func TestSaveLoadRoundTrip(t *testing.T) {
	store, _, _ := newStore(t)
	ctx := context.Background()
	st, err := store.Load(ctx, "s")
	if err != nil || st.Rev != 0 || st.StreamID != "s" || st.Status != "" {
		t.Fatalf("Load of a stream never seen = %+v, %v; want an empty state at revision 0", st, err)
	}
	if _, err := st.Apply(streamstate.Update{StreamID: "s", Status: "active", Rank: 5, EventID: "a", EventType: "video.live_stream.active",
		OccurredAt: t1, WorkspaceID: "ws", WorkspaceName: "Dev", Test: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply(streamstate.Update{StreamID: "s", SimulcastID: "t1", Status: "broadcasting", Rank: 3, EventID: "b",
		EventType: "video.live_stream.simulcast_target.broadcasting", OccurredAt: t2}); err != nil {
		t.Fatal(err)
	}
	st.SetMemory(alertrules.Memory{LiveSince: time.Date(2024, 4, 2, 11, 17, 52, 0, time.UTC)})
	st.MarkApplied(t1+"/05/a", "a", t1)
	st.MarkApplied(t2+"/03/b", "b", "")
	st.ReadThrough = t2
	st.Pending, st.Lease, st.LeaseUntil = `{"next":1}`, "me", t2
	if err := store.Save(ctx, &st); err != nil || st.Rev != 1 {
		t.Fatalf("Save = %v, rev %d; want revision 1", err, st.Rev)
	}
	back, err := store.Load(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	back.UpdatedAt, st.UpdatedAt = "", ""
	if !reflect.DeepEqual(back, st) {
		t.Errorf("read back\n%+v\nwrote\n%+v", back, st)
	}
	if !back.WasApplied("a") || back.WasApplied("c") || back.Applied != t2+"/03/b" {
		t.Errorf("applied %q, recent %v", back.Applied, back.Recent)
	}
}

// What a state remembers of the events it applied: those received after a
// time, and always the last few; at its bound it says since when it
// remembers them all. Items that kept only ids read back as such.
func TestRecentlyApplied(t *testing.T) {
	at := func(i int) string { return fmt.Sprintf("2024-04-02T11:00:%02d.000000000Z", i) }
	var st streamstate.State
	for i := range 10 {
		st.MarkApplied(at(i)+"/05/e", fmt.Sprint("e", i), at(i))
	}
	st.ForgetReceivedBefore(at(6), 2)
	var ids []string
	for _, e := range st.Recent {
		ids = append(ids, e.ID)
	}
	if want := []string{"e6", "e7", "e8", "e9"}; !slices.Equal(ids, want) {
		t.Errorf("after forgetting those received before %s: %v, want %v", at(6), ids, want)
	}
	st.ForgetReceivedBefore(at(59), 2)
	if len(st.Recent) != 2 || !st.WasApplied("e9") || st.WasApplied("e7") {
		t.Errorf("the last two are kept whenever they reached us: %v", st.Recent)
	}
	if _, full := st.RecentFull(); full {
		t.Error("full with two")
	}
	for i := range streamstate.RecentEvents + 5 {
		st.MarkApplied(at(i%60)+"/05/f", fmt.Sprint("f", i), at(i%60))
	}
	if oldest, full := st.RecentFull(); !full || len(st.Recent) != streamstate.RecentEvents || oldest != st.Recent[0].ReceivedAt || st.WasApplied("f4") || !st.WasApplied("f5") {
		t.Errorf("at the bound: %d kept, oldest %q (full %v)", len(st.Recent), oldest, full)
	}
	legacy := streamstate.StateFromItem(map[string]types.AttributeValue{
		streamstate.KeyStreamID: &types.AttributeValueMemberS{Value: "s"},
		streamstate.AttrRecent: &types.AttributeValueMemberL{Value: []types.AttributeValue{
			&types.AttributeValueMemberS{Value: "old-1"}, &types.AttributeValueMemberS{Value: "old-2"}}},
	})
	if !legacy.WasApplied("old-2") || legacy.Recent[0].ReceivedAt != "" || legacy.ReadThrough != "" {
		t.Errorf("an item that kept ids only: %+v", legacy.Recent)
	}
}

// Two writers that read the same revision: one writes, the other is told
// so and writes nothing.
func TestSaveAtAStaleRevision(t *testing.T) {
	store, _, _ := newStore(t)
	ctx := context.Background()
	st, _ := store.Load(ctx, "s")
	if err := store.Save(ctx, &st); err != nil {
		t.Fatal(err)
	}
	a, _ := store.Load(ctx, "s")
	b, _ := store.Load(ctx, "s")
	a.Status, b.Status = "active", "idle"
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []*streamstate.State{&a, &b} {
		wg.Go(func() { errs[i] = store.Save(ctx, s) })
	}
	wg.Wait()
	conflicts := 0
	for _, err := range errs {
		switch {
		case errors.Is(err, streamstate.ErrConflict):
			conflicts++
		case err != nil:
			t.Fatal(err)
		}
	}
	if conflicts != 1 {
		t.Fatalf("conflicts = %d (%v), want exactly 1", conflicts, errs)
	}
	got, _ := store.Load(ctx, "s")
	if got.Rev != 2 {
		t.Errorf("revision %d, want 2", got.Rev)
	}
}

// An item written before revisions and log positions existed is taken
// over: its position is its newest transition's (stream or target), so the
// log is applied from there on, and the first write needs no revision.
func TestLegacyItem(t *testing.T) {
	store, ddb, table := newStore(t)
	ctx := context.Background()
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
		streamstate.KeyStreamID: s("s"), streamstate.AttrStatus: s("active"), streamstate.AttrLastEventID: s("a"),
		streamstate.AttrLastOccurredAt: s(t1), streamstate.AttrStatusOrder: s(t1 + "/05"),
		"alertingRev": &types.AttributeValueMemberN{Value: "3"},
		streamstate.AttrSimulcastTargets: &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"t1": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				streamstate.AttrStatus: s("broadcasting"), streamstate.AttrLastEventID: s("b"), streamstate.AttrStatusOrder: s(t2 + "/03"),
			}},
		}},
	}}); err != nil {
		t.Fatal(err)
	}
	st, err := store.Load(ctx, "s")
	if err != nil || st.Rev != 0 || st.Applied != t2+"/03/b" {
		t.Fatalf("legacy item: rev %d, applied %q, %v; want 0 and the target's newer position", st.Rev, st.Applied, err)
	}
	if err := store.Save(ctx, &st); err != nil {
		t.Fatalf("first write over a legacy item: %v", err)
	}
}

func TestGetNotFound(t *testing.T) {
	store, _, _ := newStore(t)
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
