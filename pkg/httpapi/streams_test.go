package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

func streamsRequest(method, path string, query map[string]string) events.APIGatewayV2HTTPRequest {
	req := events.APIGatewayV2HTTPRequest{RawPath: path, QueryStringParameters: query}
	req.RequestContext.HTTP.Method = method
	req.RequestContext.RequestID = "test"
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) >= 2 && parts[0] == "streams" {
		req.PathParameters = map[string]string{"streamId": parts[1]}
		req.RouteKey = httpapi.RouteStream
		if len(parts) == 3 {
			req.RouteKey = httpapi.RouteStreamEvents
		}
	}
	return req
}

type answer struct {
	StreamID         string                        `json:"streamId"`
	Status           string                        `json:"status"`
	LastEventID      string                        `json:"lastEventId"`
	SimulcastTargets map[string]streamstate.Target `json:"simulcastTargets"`
	Events           []struct {
		EventID     string          `json:"eventId"`
		Type        string          `json:"type"`
		OccurredAt  string          `json:"occurredAt"`
		SimulcastID string          `json:"simulcastId"`
		Payload     json.RawMessage `json:"payload"`
	} `json:"events"`
	NextCursor *string `json:"nextCursor"`
	Error      string  `json:"error"`
}

func TestStreams(t *testing.T) {
	client := testenv.DynamoDB(t)
	eventsTable := testenv.CreateTable(t, client, "EventLogTable")
	stateTable := testenv.CreateTable(t, client, "StreamStateTable")
	w := &eventstore.DynamoDB{Client: client, Table: eventsTable}
	st := &streamstate.Store{Client: client, Table: stateTable}
	h := &httpapi.Streams{
		Events: &eventstore.Reader{Client: client, Table: eventsTable},
		State:  st,
	}
	ctx := context.Background()

	// "live": six events and a state with one simulcast target.
	// "pending": events stored, the notifier has not got to them yet.
	base := time.Date(2024, 4, 2, 11, 17, 52, 0, time.UTC)
	types := []string{"created", "connected", "active", "simulcast.broadcasting", "disconnected", "idle"}
	var liveIDs []string
	for i, typ := range types {
		rec := eventstore.Record{
			EventID:    fmt.Sprintf("live-%d", i),
			Type:       "video.live_stream." + typ,
			StreamID:   "live",
			OccurredAt: eventstore.FormatTime(base.Add(time.Duration(i) * time.Minute)),
			ReceivedAt: eventstore.FormatTime(base.Add(time.Hour)),
			Payload:    fmt.Sprintf(`{"id":"live-%d","data":{"streamKey":"[redacted]"}}`, i),
		}
		if strings.HasPrefix(typ, "simulcast") {
			rec.SimulcastID = "target-1"
		}
		if err := w.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
		liveIDs = append(liveIDs, rec.EventID)
	}
	if err := w.Put(ctx, eventstore.Record{EventID: "pending-0", Type: "video.live_stream.created", StreamID: "pending",
		OccurredAt: eventstore.FormatTime(base), Payload: `{}`}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []streamstate.Update{
		{StreamID: "live", Status: "idle", EventID: "live-5", EventType: "video.live_stream.idle", OccurredAt: eventstore.FormatTime(base.Add(5 * time.Minute))},
		{StreamID: "live", SimulcastID: "target-1", Status: "broadcasting", EventID: "live-3", EventType: "video.live_stream.simulcast.broadcasting", OccurredAt: eventstore.FormatTime(base.Add(3 * time.Minute))},
		{StreamID: "stateonly", Status: "idle", EventID: "x", EventType: "video.live_stream.idle", OccurredAt: eventstore.FormatTime(base)},
	} {
		if _, err := st.Apply(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	newest := slices.Clone(liveIDs)
	slices.Reverse(newest)

	tests := []struct {
		name       string
		method     string
		path       string
		query      map[string]string
		wantStatus int
		wantEvents []string
		wantCursor bool
		check      func(t *testing.T, a answer)
	}{
		{name: "state", path: "/streams/live", wantStatus: 200, check: func(t *testing.T, a answer) {
			if a.StreamID != "live" || a.Status != "idle" || a.LastEventID != "live-5" || a.SimulcastTargets["target-1"].Status != "broadcasting" {
				t.Fatalf("state %+v", a)
			}
		}},
		{name: "state not yet applied", path: "/streams/pending", wantStatus: 200, check: func(t *testing.T, a answer) {
			if a.StreamID != "pending" || a.Status != "" || a.SimulcastTargets == nil {
				t.Fatalf("state %+v", a)
			}
		}},
		{name: "state of unknown stream", path: "/streams/nope", wantStatus: 404},
		{name: "events newest first", path: "/streams/live/events", wantStatus: 200, wantEvents: newest, check: func(t *testing.T, a answer) {
			if string(a.Events[0].Payload) != `{"id":"live-5","data":{"streamKey":"[redacted]"}}` {
				t.Fatalf("payload not embedded as JSON: %s", a.Events[0].Payload)
			}
			if a.Events[2].SimulcastID != "target-1" {
				t.Fatalf("simulcastId missing: %+v", a.Events[2])
			}
		}},
		{name: "events oldest first", path: "/streams/live/events", query: map[string]string{"order": "asc"}, wantStatus: 200, wantEvents: liveIDs},
		{name: "first page", path: "/streams/live/events", query: map[string]string{"limit": "4"}, wantStatus: 200, wantEvents: newest[:4], wantCursor: true},
		{name: "type filter, two types", path: "/streams/live/events", query: map[string]string{"type": "video.live_stream.active,video.live_stream.idle", "order": "asc"}, wantStatus: 200, wantEvents: []string{"live-2", "live-5"}},
		{name: "type with no events of a known stream", path: "/streams/live/events", query: map[string]string{"type": "video.media.ready"}, wantStatus: 200, wantEvents: []string{}},
		{name: "events of a stream with only a state", path: "/streams/stateonly/events", wantStatus: 200, wantEvents: []string{}},
		{name: "events of unknown stream", path: "/streams/nope/events", wantStatus: 404},
		{name: "filtered events of unknown stream", path: "/streams/nope/events", query: map[string]string{"type": "video.live_stream.active"}, wantStatus: 404},
		{name: "bad cursor", path: "/streams/live/events", query: map[string]string{"cursor": "not-a-cursor"}, wantStatus: 400},
		{name: "limit zero", path: "/streams/live/events", query: map[string]string{"limit": "0"}, wantStatus: 400},
		{name: "limit too large", path: "/streams/live/events", query: map[string]string{"limit": "101"}, wantStatus: 400},
		{name: "limit not a number", path: "/streams/live/events", query: map[string]string{"limit": "ten"}, wantStatus: 400},
		{name: "bad order", path: "/streams/live/events", query: map[string]string{"order": "sideways"}, wantStatus: 400},
		{name: "POST", method: http.MethodPost, path: "/streams/live/events", wantStatus: 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			resp, err := h.Handle(ctx, streamsRequest(method, tc.path, tc.query))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, resp.Body)
			}
			if resp.Headers["Content-Type"] != "application/json" {
				t.Fatalf("content type %q", resp.Headers["Content-Type"])
			}
			var a answer
			if err := json.Unmarshal([]byte(resp.Body), &a); err != nil {
				t.Fatalf("body %s: %v", resp.Body, err)
			}
			if tc.wantStatus >= 400 && a.Error == "" {
				t.Fatalf("error answer without a message: %s", resp.Body)
			}
			if tc.wantEvents != nil {
				var got []string
				for _, e := range a.Events {
					got = append(got, e.EventID)
				}
				if !slices.Equal(got, tc.wantEvents) {
					t.Fatalf("events %v, want %v", got, tc.wantEvents)
				}
				if !strings.Contains(resp.Body, `"events":[`) {
					t.Fatalf("events must be a list, even empty: %s", resp.Body)
				}
				if (a.NextCursor != nil) != tc.wantCursor {
					t.Fatalf("nextCursor %v, want present=%v", a.NextCursor, tc.wantCursor)
				}
			}
			if tc.check != nil {
				tc.check(t, a)
			}
		})
	}

	t.Run("cursor walks the stream", func(t *testing.T) {
		var got []string
		q := map[string]string{"limit": "4"}
		for range 5 {
			resp, _ := h.Handle(ctx, streamsRequest(http.MethodGet, "/streams/live/events", q))
			var a answer
			if err := json.Unmarshal([]byte(resp.Body), &a); err != nil || resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, resp.Body)
			}
			for _, e := range a.Events {
				got = append(got, e.EventID)
			}
			if a.NextCursor == nil {
				break
			}
			q["cursor"] = *a.NextCursor
		}
		if !slices.Equal(got, newest) {
			t.Fatalf("walked %v, want %v", got, newest)
		}
	})

	t.Run("a cursor of one stream is refused for another", func(t *testing.T) {
		resp, _ := h.Handle(ctx, streamsRequest(http.MethodGet, "/streams/live/events", map[string]string{"limit": "1"}))
		var a answer
		_ = json.Unmarshal([]byte(resp.Body), &a)
		if a.NextCursor == nil {
			t.Fatalf("no cursor: %s", resp.Body)
		}
		resp, _ = h.Handle(ctx, streamsRequest(http.MethodGet, "/streams/pending/events", map[string]string{"cursor": *a.NextCursor}))
		if resp.StatusCode != 400 {
			t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
		}
	})

	t.Run("catch-all route", func(t *testing.T) {
		req := streamsRequest(http.MethodGet, "/streams/live/events", map[string]string{"limit": "1"})
		req.RouteKey, req.PathParameters = "$default", nil
		resp, _ := h.Handle(ctx, req)
		if resp.StatusCode != 200 || !strings.Contains(resp.Body, `"eventId":"live-5"`) {
			t.Fatalf("%d %s", resp.StatusCode, resp.Body)
		}
	})
}

// noStore fails the test when a request reaches the stores.
type noStore struct{ t *testing.T }

func (n noStore) StreamEvents(context.Context, eventstore.StreamQuery) (eventstore.Page, error) {
	n.t.Error("the events table was read")
	return eventstore.Page{}, nil
}

func (n noStore) Get(context.Context, string) (streamstate.State, error) {
	n.t.Error("the state table was read")
	return streamstate.State{}, nil
}

// Requests no store can answer are the caller's mistake: 400 with a reason
// that names no package, before any read (not 503, which pages an operator).
func TestStreamsRefusesAtTheDoor(t *testing.T) {
	long := strings.Repeat("s", eventstore.MaxKeyBytes+1)
	tests := []struct {
		name, path string
		query      map[string]string
		wantError  string
	}{
		{"stream id over 2 KB", "/streams/" + long, nil, "at most 2048"},
		{"stream id over 2 KB, events", "/streams/" + long + "/events", nil, "at most 2048"},
		{"stream id with a slash", "/streams/a%2Fb", nil, "'/'"},
	}
	h := &httpapi.Streams{Events: noStore{t}, State: noStore{t}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := streamsRequest(http.MethodGet, tc.path, tc.query)
			if tc.path == "/streams/a%2Fb" {
				req.PathParameters = map[string]string{"streamId": "a/b"}
			}
			resp, err := h.Handle(context.Background(), req)
			var a answer
			_ = json.Unmarshal([]byte(resp.Body), &a)
			if err != nil || resp.StatusCode != http.StatusBadRequest || !strings.Contains(a.Error, tc.wantError) {
				t.Errorf("%d %s (%v), want 400 about %q", resp.StatusCode, resp.Body, err, tc.wantError)
			}
		})
	}
}

// fixedReader answers every query with err.
type fixedReader struct{ err error }

func (f fixedReader) StreamEvents(context.Context, eventstore.StreamQuery) (eventstore.Page, error) {
	return eventstore.Page{}, f.err
}

func TestStreamsValidationMessagesNameNoPackage(t *testing.T) {
	_, err := eventstore.StreamQuery{StreamID: "s", Types: make([]string, eventstore.MaxTypes+1)}.Normalize()
	h := &httpapi.Streams{Events: fixedReader{err}, State: noStore{t}}
	resp, _ := h.Handle(context.Background(), streamsRequest(http.MethodGet, "/streams/s/events", nil))
	if resp.StatusCode != http.StatusBadRequest || strings.Contains(resp.Body, "eventstore") || !strings.Contains(resp.Body, "at most 10 types") {
		t.Errorf("%d %s; want 400 saying why, naming no package", resp.StatusCode, resp.Body)
	}
}
