package httpapi_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// fakeFleet answers List with a fixed page or error, and keeps the query.
type fakeFleet struct {
	page  streamstate.ListPage
	err   error
	got   streamstate.ListQuery
	calls int
}

func (f *fakeFleet) List(_ context.Context, q streamstate.ListQuery) (streamstate.ListPage, error) {
	f.calls++
	f.got = q
	return f.page, f.err
}

type fleetAnswer struct {
	Streams    []streamstate.Listed `json:"streams"`
	NextCursor *string              `json:"nextCursor"`
	Error      string               `json:"error"`
}

func TestFleet(t *testing.T) {
	live := streamstate.Listed{StreamID: "s-1", WorkspaceID: "ws-1", Status: "active", Since: "2024-04-02T11:19:57.722812836Z",
		SimulcastTargets: map[string]streamstate.ListedTarget{"t-1": {Status: "broadcasting", Since: "2024-04-02T11:20:04.722812836Z"}}}
	idle := streamstate.Listed{StreamID: "s-2", Status: "idle", Since: "2024-04-02T11:00:00.000000000Z"}
	page := streamstate.ListPage{Streams: []streamstate.Listed{live, idle}, NextCursor: "next-page"}
	valid := strings.Join(streamstate.StreamStatuses, ", ")

	tests := []struct {
		name       string
		method     string
		query      map[string]string
		routeKey   string // "" : routed by path, as a $default route is
		page       streamstate.ListPage
		err        error
		wantStatus int
		wantQuery  *streamstate.ListQuery // what the store is asked; nil: not asked
		wantError  string                 // a part of the error answer
	}{
		{
			name: "statuses, workspace, limit and cursor", routeKey: httpapi.RouteFleet,
			query: map[string]string{"status": "active, idle", "workspace": "ws-1", "limit": "2", "cursor": "c1"},
			page:  page, wantStatus: 200,
			wantQuery: &streamstate.ListQuery{Statuses: []string{"active", "idle"}, WorkspaceID: "ws-1", Limit: 2, Cursor: "c1"},
		},
		{
			name: "default limit, routed by path", query: map[string]string{"status": "active"},
			page: streamstate.ListPage{}, wantStatus: 200,
			wantQuery: &streamstate.ListQuery{Statuses: []string{"active"}},
		},
		{name: "status missing", query: map[string]string{}, wantStatus: 400, wantError: "status is required: one or more of " + valid},
		{name: "status empty", query: map[string]string{"status": " , "}, wantStatus: 400, wantError: "status is required"},
		{name: "status unknown", query: map[string]string{"status": "active,live"}, wantStatus: 400, wantError: `unknown status "live": status is one or more of ` + valid},
		{name: "simulcast status", query: map[string]string{"status": "broadcasting"}, wantStatus: 400, wantError: "unknown status"},
		{name: "status in upper case", query: map[string]string{"status": "ACTIVE"}, wantStatus: 400, wantError: "unknown status"},
		{name: "limit zero", query: map[string]string{"status": "idle", "limit": "0"}, wantStatus: 400, wantError: "limit must be"},
		{name: "limit too large", query: map[string]string{"status": "idle", "limit": "101"}, wantStatus: 400, wantError: "limit must be"},
		{name: "limit not a number", query: map[string]string{"status": "idle", "limit": "ten"}, wantStatus: 400, wantError: "limit must be"},
		{
			name: "bad cursor", query: map[string]string{"status": "idle", "cursor": "forged"},
			err: fmt.Errorf("%w: not a cursor", streamstate.ErrBadListCursor), wantStatus: 400, wantError: "bad cursor",
			wantQuery: &streamstate.ListQuery{Statuses: []string{"idle"}, Cursor: "forged"},
		},
		{
			name: "store down", query: map[string]string{"status": "idle"},
			err: errors.New("streamstate: list streams idle: connection refused"), wantStatus: 503, wantError: "store unavailable",
			wantQuery: &streamstate.ListQuery{Statuses: []string{"idle"}},
		},
		{name: "POST", method: http.MethodPost, query: map[string]string{"status": "idle"}, wantStatus: 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fleet := &fakeFleet{page: tc.page, err: tc.err}
			h := &httpapi.Streams{Fleet: fleet}
			req := events.APIGatewayV2HTTPRequest{RouteKey: tc.routeKey, RawPath: "/streams", QueryStringParameters: tc.query}
			req.RequestContext.HTTP.Method = cmp.Or(tc.method, http.MethodGet)
			resp, err := h.Handle(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, resp.Body)
			}
			var a fleetAnswer
			if err := json.Unmarshal([]byte(resp.Body), &a); err != nil {
				t.Fatalf("body %q: %v", resp.Body, err)
			}
			if !strings.Contains(a.Error, tc.wantError) || (tc.wantStatus >= 400 && a.Error == "") {
				t.Errorf("error %q, want it to contain %q", a.Error, tc.wantError)
			}
			if strings.Contains(a.Error, "streamstate") {
				t.Errorf("error %q names a package", a.Error)
			}
			switch {
			case tc.wantQuery == nil && fleet.calls != 0:
				t.Errorf("store asked %+v; want not asked", fleet.got)
			case tc.wantQuery != nil && (fleet.calls != 1 || !slices.Equal(fleet.got.Statuses, tc.wantQuery.Statuses) ||
				fleet.got.WorkspaceID != tc.wantQuery.WorkspaceID || fleet.got.Limit != tc.wantQuery.Limit || fleet.got.Cursor != tc.wantQuery.Cursor):
				t.Errorf("store asked %d times, last %+v; want once %+v", fleet.calls, fleet.got, *tc.wantQuery)
			}
			if tc.wantStatus != 200 {
				return
			}
			// Every answer has a list (never null), each stream a map of
			// targets, and the cursor only when the store gave one.
			if a.Streams == nil || !strings.Contains(resp.Body, `"streams":[`) {
				t.Errorf("body %s: want a streams list", resp.Body)
			}
			if len(a.Streams) != len(tc.page.Streams) {
				t.Fatalf("%d streams, want %d", len(a.Streams), len(tc.page.Streams))
			}
			for i, s := range a.Streams {
				w := tc.page.Streams[i]
				if s.StreamID != w.StreamID || s.WorkspaceID != w.WorkspaceID || s.Status != w.Status || s.Since != w.Since || len(s.SimulcastTargets) != len(w.SimulcastTargets) {
					t.Errorf("stream %d = %+v, want %+v", i, s, w)
				}
				for id, target := range w.SimulcastTargets {
					if s.SimulcastTargets[id] != target {
						t.Errorf("stream %s target %s = %+v, want %+v", s.StreamID, id, s.SimulcastTargets[id], target)
					}
				}
			}
			if strings.Count(resp.Body, `"simulcastTargets":{`) != len(a.Streams) {
				t.Errorf("body %s: want every stream's simulcastTargets as an object", resp.Body)
			}
			if got := a.NextCursor; (got == nil) != (tc.page.NextCursor == "") || (got != nil && *got != tc.page.NextCursor) {
				t.Errorf("nextCursor %v, want %q", got, tc.page.NextCursor)
			}
		})
	}
}
