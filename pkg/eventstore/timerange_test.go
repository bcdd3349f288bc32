package eventstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
)

// A range is read oldest first whether it comes from the byStream index or
// from a scan, cut at the limit with "more" said, bounded by either time.
func TestRangeOrderAndLimit(t *testing.T) {
	ddb := testenv.DynamoDB(t)
	table := testenv.CreateTable(t, ddb, "EventLogTable")
	w := &eventstore.DynamoDB{Client: ddb, Table: table}
	base := time.Date(2024, 4, 2, 11, 0, 0, 0, time.UTC)
	for i, id := range []string{"c", "a", "b", "d"} {
		minute := []int{3, 1, 2, 4}[i]
		err := w.Put(context.Background(), eventstore.Record{
			EventID: id, Type: "video.live_stream.updated", StreamID: "stream-x",
			OccurredAt: eventstore.FormatTime(base.Add(time.Duration(minute) * time.Minute)),
			// Received in the reverse order of occurrence.
			ReceivedAt: eventstore.FormatTime(base.Add(time.Hour - time.Duration(minute)*time.Minute)),
			Payload:    `{"id":"` + id + `"}`,
		})
		if err != nil {
			t.Fatalf("put %s: %v", id, err)
		}
	}
	r := &eventstore.RangeReader{Client: ddb, Table: table}
	tests := []struct {
		q    eventstore.RangeQuery
		want string
		more bool
	}{
		{eventstore.RangeQuery{StreamID: "stream-x"}, "a,b,c,d", false},
		{eventstore.RangeQuery{StreamID: "stream-x", Limit: 2}, "a,b", true},
		{eventstore.RangeQuery{StreamID: "stream-x", From: base.Add(2 * time.Minute), To: base.Add(3 * time.Minute)}, "b,c", false},
		{eventstore.RangeQuery{From: base.Add(2 * time.Minute)}, "b,c,d", false},
		{eventstore.RangeQuery{From: base, Limit: 3}, "a,b,c", true},
		{eventstore.RangeQuery{StreamID: "stream-y"}, "", false},
		// By arrival: d arrived first, so a window on receivedAt holds the
		// late occurrences, still listed in occurredAt order.
		{eventstore.RangeQuery{StreamID: "stream-x", ByReceivedAt: true, To: base.Add(time.Hour - 3*time.Minute)}, "c,d", false},
	}
	for _, tc := range tests {
		recs, more, err := r.Events(context.Background(), tc.q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, rec := range recs {
			ids = append(ids, rec.EventID)
		}
		if strings.Join(ids, ",") != tc.want || more != tc.more {
			t.Errorf("%+v: %v more=%v, want %s more=%v", tc.q, ids, more, tc.want, tc.more)
		}
	}
	if _, _, err := r.Events(context.Background(), eventstore.RangeQuery{From: base.Add(time.Hour), To: base}); !errors.Is(err, eventstore.ErrBadRange) {
		t.Errorf("inverted range: %v", err)
	}
}
