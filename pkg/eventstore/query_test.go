package eventstore_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
)

// seedStream stores n events of one stream, one minute apart, cycling
// through types, plus events of another stream that must never show up.
// It returns the stream's event ids oldest first and their types.
func seedStream(t *testing.T, w eventstore.Writer, streamID string, n int, types []string) ([]string, []string) {
	t.Helper()
	ctx := context.Background()
	base := time.Date(2024, 4, 2, 11, 17, 52, 722812836, time.UTC)
	var ids, typs []string
	for i := range n {
		id := fmt.Sprintf("evt-%s-%03d", streamID, i)
		typ := types[i%len(types)]
		rec := eventstore.Record{
			EventID:    id,
			Type:       typ,
			StreamID:   streamID,
			OccurredAt: eventstore.FormatTime(base.Add(time.Duration(i) * time.Minute)),
			ReceivedAt: eventstore.FormatTime(base.Add(time.Hour)),
			Payload:    fmt.Sprintf(`{"id":%q,"type":%q}`, id, typ),
		}
		if err := w.Put(ctx, rec); err != nil {
			t.Fatalf("put %s: %v", id, err)
		}
		ids = append(ids, id)
		typs = append(typs, typ)
	}
	return ids, typs
}

// readAll follows cursors to the end and checks that only the last page
// lacks one and that no page but possibly the last is short.
func readAll(t *testing.T, r *eventstore.Reader, q eventstore.StreamQuery) ([]string, int) {
	t.Helper()
	var got []string
	pages := 0
	for {
		p, err := r.StreamEvents(context.Background(), q)
		if err != nil {
			t.Fatalf("page %d: %v", pages+1, err)
		}
		pages++
		for _, rec := range p.Records {
			if rec.StreamID != q.StreamID {
				t.Fatalf("event %s of stream %s in stream %s's listing", rec.EventID, rec.StreamID, q.StreamID)
			}
			got = append(got, rec.EventID)
		}
		if p.NextCursor == "" {
			return got, pages
		}
		if len(p.Records) != q.Limit {
			t.Fatalf("page %d has %d events and a cursor; want a full page of %d", pages, len(p.Records), q.Limit)
		}
		if pages > 100 {
			t.Fatal("cursor never ends")
		}
		q.Cursor = p.NextCursor
	}
}

func TestStreamEvents(t *testing.T) {
	client := testenv.DynamoDB(t)
	table := testenv.CreateTable(t, client, "EventLogTable")
	w := &eventstore.DynamoDB{Client: client, Table: table}
	r := &eventstore.Reader{Client: client, Table: table}

	const stream = "a2ae2143-62a1-4eee-b888-4f1406148481"
	typeCycle := []string{"video.live_stream.connected", "video.live_stream.active", "video.live_stream.disconnected", "video.live_stream.idle", "video.live_stream.recording"}
	ids, typs := seedStream(t, w, stream, 23, typeCycle)
	seedStream(t, w, "other-stream", 7, typeCycle)

	reversed := slices.Clone(ids)
	slices.Reverse(reversed)
	of := func(want ...string) []string { // ids of the given types, oldest first
		var out []string
		for i, id := range ids {
			if slices.Contains(want, typs[i]) {
				out = append(out, id)
			}
		}
		return out
	}
	rev := func(s []string) []string { s = slices.Clone(s); slices.Reverse(s); return s }

	tests := []struct {
		name      string
		q         eventstore.StreamQuery
		want      []string
		wantPages int
	}{
		{"newest first, one page", eventstore.StreamQuery{StreamID: stream, Limit: 50}, reversed, 1},
		{"oldest first, one page", eventstore.StreamQuery{StreamID: stream, Limit: 50, Ascending: true}, ids, 1},
		{"exact fit: no cursor on a full last page", eventstore.StreamQuery{StreamID: stream, Limit: 23}, reversed, 1},
		{"newest first, pages of 5", eventstore.StreamQuery{StreamID: stream, Limit: 5}, reversed, 5},
		{"oldest first, pages of 4", eventstore.StreamQuery{StreamID: stream, Limit: 4, Ascending: true}, ids, 6},
		{"pages of 1", eventstore.StreamQuery{StreamID: stream, Limit: 1, Ascending: true}, ids, 23},
		{"default limit", eventstore.StreamQuery{StreamID: stream}, reversed, 1},
		{"type filter across pages", eventstore.StreamQuery{StreamID: stream, Limit: 2, Types: []string{"video.live_stream.active"}}, rev(of("video.live_stream.active")), 3},
		{"two types, ascending", eventstore.StreamQuery{StreamID: stream, Limit: 3, Ascending: true, Types: []string{"video.live_stream.idle", "video.live_stream.connected"}}, of("video.live_stream.idle", "video.live_stream.connected"), 3},
		{"type with no events", eventstore.StreamQuery{StreamID: stream, Limit: 3, Types: []string{"video.media.ready"}}, nil, 1},
		{"unknown stream", eventstore.StreamQuery{StreamID: "no-such-stream", Limit: 3}, nil, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, pages := readAll(t, r, tc.q)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("events:\n got %v\nwant %v", got, tc.want)
			}
			if pages != tc.wantPages {
				t.Fatalf("%d pages, want %d", pages, tc.wantPages)
			}
		})
	}

	t.Run("records come back whole", func(t *testing.T) {
		p, err := r.StreamEvents(context.Background(), eventstore.StreamQuery{StreamID: stream, Limit: 1, Ascending: true})
		if err != nil {
			t.Fatal(err)
		}
		got := p.Records[0]
		if got.EventID != ids[0] || got.Type != typs[0] || got.OccurredAt != "2024-04-02T11:17:52.722812836Z" ||
			got.Payload != fmt.Sprintf(`{"id":%q,"type":%q}`, ids[0], typs[0]) {
			t.Fatalf("record %+v", got)
		}
	})
}

func TestStreamEventsRejects(t *testing.T) {
	client := testenv.DynamoDB(t)
	table := testenv.CreateTable(t, client, "EventLogTable")
	w := &eventstore.DynamoDB{Client: client, Table: table}
	r := &eventstore.Reader{Client: client, Table: table}
	seedStream(t, w, "s1", 5, []string{"video.live_stream.active"})
	seedStream(t, w, "s2", 5, []string{"video.live_stream.active"})

	first, err := r.StreamEvents(context.Background(), eventstore.StreamQuery{StreamID: "s1", Limit: 2})
	if err != nil || first.NextCursor == "" {
		t.Fatalf("first page: %v, cursor %q", err, first.NextCursor)
	}
	good := first.NextCursor
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

	tests := []struct {
		name string
		q    eventstore.StreamQuery
		want error
	}{
		{"not base64", eventstore.StreamQuery{StreamID: "s1", Cursor: "%%%"}, eventstore.ErrBadCursor},
		{"not JSON", eventstore.StreamQuery{StreamID: "s1", Cursor: b64("hello")}, eventstore.ErrBadCursor},
		{"unknown field", eventstore.StreamQuery{StreamID: "s1", Cursor: b64(strings.Replace(string(raw), `{`, `{"x":1,`, 1))}, eventstore.ErrBadCursor},
		{"other stream's cursor", eventstore.StreamQuery{StreamID: "s2", Cursor: good}, eventstore.ErrBadCursor},
		{"other order's cursor", eventstore.StreamQuery{StreamID: "s1", Cursor: good, Ascending: true}, eventstore.ErrBadCursor},
		{"wrong version", eventstore.StreamQuery{StreamID: "s1", Cursor: b64(strings.Replace(string(raw), `"v":2`, `"v":3`, 1))}, eventstore.ErrBadCursor},
		{"a cursor of the previous layout", eventstore.StreamQuery{StreamID: "s1", Cursor: b64(`{"v":1,"s":"s1","o":"2024-04-02T11:17:52.722812836Z","e":"x"}`)}, eventstore.ErrBadCursor},
		{"bad position", eventstore.StreamQuery{StreamID: "s1", Cursor: b64(`{"v":2,"s":"s1","k":"yesterday/05/x","e":"x"}`)}, eventstore.ErrBadCursor},
		{"position of another event", eventstore.StreamQuery{StreamID: "s1", Cursor: b64(`{"v":2,"s":"s1","k":"2024-04-02T11:17:52.722812836Z/05/y","e":"x"}`)}, eventstore.ErrBadCursor},
		{"no event id", eventstore.StreamQuery{StreamID: "s1", Cursor: b64(`{"v":2,"s":"s1","k":"2024-04-02T11:17:52.722812836Z/05/"}`)}, eventstore.ErrBadCursor},
		{"a log of no stream", eventstore.StreamQuery{StreamID: "nostream/obj"}, eventstore.ErrBadQuery},
		{"limit too large", eventstore.StreamQuery{StreamID: "s1", Limit: eventstore.MaxLimit + 1}, eventstore.ErrBadQuery},
		{"negative limit", eventstore.StreamQuery{StreamID: "s1", Limit: -1}, eventstore.ErrBadQuery},
		{"no stream", eventstore.StreamQuery{}, eventstore.ErrBadQuery},
		{"empty type", eventstore.StreamQuery{StreamID: "s1", Types: []string{""}}, eventstore.ErrBadQuery},
		{"too many types", eventstore.StreamQuery{StreamID: "s1", Types: make([]string, eventstore.MaxTypes+1)}, eventstore.ErrBadQuery},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := r.StreamEvents(context.Background(), tc.q)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v (page %+v)", err, tc.want, p)
			}
		})
	}

	t.Run("the good cursor continues", func(t *testing.T) {
		p, err := r.StreamEvents(context.Background(), eventstore.StreamQuery{StreamID: "s1", Limit: 2, Cursor: good})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Records) != 2 || p.Records[0].EventID != "evt-s1-002" {
			t.Fatalf("page %+v", p)
		}
	})
}
