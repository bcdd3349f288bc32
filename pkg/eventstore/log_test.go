package eventstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
)

// A stream's log reads back in log order (time, then the lifecycle's rank,
// then the id), strictly after a position, right after the writes, and
// whole past DynamoDB's 1 MB pages; other streams' events stay out.
func TestReadLog(t *testing.T) {
	client := testenv.DynamoDB(t)
	table := testenv.CreateTable(t, client, "EventLogTable")
	w := &eventstore.DynamoDB{Client: client, Table: table}
	r := &eventstore.Reader{Client: client, Table: table}
	ctx := context.Background()
	at := time.Date(2024, 4, 2, 11, 0, 0, 0, time.UTC)
	put := func(stream, id, typ string, when time.Time, payload string) eventstore.Record {
		t.Helper()
		ev := fastpix.Event{ID: id, Type: typ, StreamID: stream, CreatedAt: when}
		rec, _ := eventstore.NewRecord(ev, []byte(payload), when, 0, 0)
		if err := w.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	// Written out of order; the same instant for a disconnect and the
	// active it ends, and for two actives.
	put("s", "e3", fastpix.TypeLiveStreamDisconnected, at.Add(time.Second), "{}")
	put("s", "e2", fastpix.TypeLiveStreamActive, at.Add(time.Second), "{}")
	put("s", "e1", fastpix.TypeLiveStreamConnected, at, "{}")
	put("s", "e0", fastpix.TypeLiveStreamActive, at.Add(time.Second), "{}")
	put("other", "o1", fastpix.TypeLiveStreamActive, at, "{}")
	all, err := r.ReadLog(ctx, "s", "", "")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, rec := range all {
		ids = append(ids, rec.EventID)
	}
	if want := []string{"e1", "e0", "e2", "e3"}; !slices.Equal(ids, want) {
		t.Fatalf("log %v, want %v", ids, want)
	}
	after, err := r.ReadLog(ctx, "s", all[1].OrderKey, "")
	if err != nil || len(after) != 2 || after[0].EventID != "e2" {
		t.Fatalf("after %s: %v, %v", all[1].OrderKey, after, err)
	}
	// Past 1 MB: 30 events of 60 KB.
	big := `{"pad":"` + strings.Repeat("x", 60_000) + `"}`
	for i := range 30 {
		put("big", fmt.Sprintf("b%02d", i), fastpix.TypeLiveStreamUpdated, at.Add(time.Duration(i)*time.Second), big)
	}
	long, err := r.ReadLog(ctx, "big", "", "")
	if err != nil || len(long) != 30 || long[29].EventID != "b29" || long[0].Payload != big {
		t.Fatalf("a log over 1 MB: %d events, %v", len(long), err)
	}
	// Only what reached us after a time, still in log order, found past
	// pages the filter left empty.
	recent, err := r.ReadLog(ctx, "big", "", long[26].ReceivedAt)
	if err != nil || len(recent) != 3 || recent[0].EventID != "b27" || recent[2].EventID != "b29" {
		t.Fatalf("received after %s: %d events, %v", long[26].ReceivedAt, len(recent), err)
	}
	both, err := r.ReadLog(ctx, "s", all[0].OrderKey, all[0].ReceivedAt)
	if err != nil || len(both) != 3 {
		t.Fatalf("after %s received after %s: %v, %v", all[0].OrderKey, all[0].ReceivedAt, both, err)
	}
}
