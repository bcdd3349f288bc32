package board

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

func change(stream, target, status, at string) Change {
	c := Change{StreamID: stream, SimulcastTargetID: target, Status: status, OccurredAt: at, EventType: "video.live_stream." + status, EventID: stream + target + status + at}
	c.Workspace.ID = "ws-1"
	return c
}

func ptr(s string) *string { return &s }

func TestStateAppliesChangesByTheirTimeNotTheirArrival(t *testing.T) {
	h := NewHub(64, 64)
	s := NewState(h, "")
	s.Load([]Stream{
		{StreamID: "s1", WorkspaceID: "ws-1", Status: "idle", Since: "2026-12-04T10:00:00Z", SimulcastTargets: map[string]Target{"yt": {Status: "created", Since: "2026-12-04T10:00:00Z"}}},
		{StreamID: "s2", Status: "active", Since: "2026-12-04T10:00:00Z"},
	}, time.Now())

	for _, step := range []struct {
		c       Change
		applied bool
	}{
		{change("s1", "", "active", "2026-12-04T10:01:00Z"), true},
		{change("s1", "yt", "broadcasting", "2026-12-04T10:01:05Z"), true},
		{change("s1", "", "connected", "2026-12-04T10:00:30Z"), false},     // late: older than active
		{change("s1", "yt", "starting", "2026-12-04T10:01:01Z"), false},    // late for the target
		{change("s1", "tw", "broadcasting", "2026-12-04T09:00:00Z"), true}, // a target not seen yet
		{change("s2", "", "deleted", "2026-12-04T10:02:00Z"), true},        // leaves the board
		{change("s2", "", "deleted", "2026-12-04T10:02:00Z"), false},       // again: nothing to remove
		{change("s3", "fb", "broadcasting", "2026-12-04T10:03:00Z"), true}, // target before its stream
		{change("s1", "yt", "deleted", "2026-12-04T10:04:00Z"), true},      // the target leaves
	} {
		got, err := s.Apply(step.c)
		if err != nil || got != step.applied {
			t.Fatalf("%+v: applied %v (%v), want %v", step.c, got, err, step.applied)
		}
	}
	snap := s.Snapshot()
	if len(snap.Streams) != 2 || snap.Streams[0].StreamID != "s1" || snap.Streams[1].StreamID != "s3" {
		t.Fatalf("streams %+v", snap.Streams)
	}
	s1 := snap.Streams[0]
	if s1.Status != "active" || s1.Since != "2026-12-04T10:01:00Z" || s1.LastEvent != "video.live_stream.deleted" {
		t.Fatalf("s1 %+v", s1)
	}
	if _, ok := s1.SimulcastTargets["yt"]; ok || s1.SimulcastTargets["tw"].Status != "broadcasting" {
		t.Fatalf("s1 targets %+v", s1.SimulcastTargets)
	}
	if snap.Streams[1].Status != "" || snap.Streams[1].WorkspaceID != "ws-1" {
		t.Fatalf("s3 %+v", snap.Streams[1])
	}
	if snap.LastEventID != h.LastID() {
		t.Fatalf("snapshot id %s, hub at %s", snap.LastEventID, h.LastID())
	}
}

func TestStateAlertMarking(t *testing.T) {
	s := NewState(NewHub(8, 8), "")
	held := change("s1", "", "disconnected", "2026-12-04T10:00:00Z")
	held.Alert, held.HeldUntil = ptr(AlertHeld), "2026-12-04T10:00:30.000000000Z"
	s.Apply(held)
	if st := s.Snapshot().Streams[0]; st.HeldUntil != held.HeldUntil {
		t.Fatalf("heldUntil %q", st.HeldUntil)
	}
	tgt := change("s1", "yt", "broadcasting", "2026-12-04T10:00:01Z") // no alert field: the marking stays
	s.Apply(tgt)
	if a := s.Snapshot().Streams[0].Alert; a != AlertHeld {
		t.Fatalf("alert %q after a target change without one, want held", a)
	}
	s.Apply(change("s1", "", "active", "2026-12-04T10:00:02Z")) // back: the stream's change carries none
	if st := s.Snapshot().Streams[0]; st.Alert != "" || st.HeldUntil != "" {
		t.Fatalf("alert %q until %q after the stream came back", st.Alert, st.HeldUntil)
	}
	flap := change("s1", "", "active", "2026-12-04T10:00:03Z")
	flap.Alert = ptr(AlertUnstable)
	s.Apply(flap)
	if a := s.Snapshot().Streams[0].Alert; a != AlertUnstable {
		t.Fatalf("alert %q", a)
	}
	// The listing's field reads the same.
	var listed struct{ Streams []Stream }
	if err := json.Unmarshal([]byte(`{"streams":[{"streamId":"x","status":"disconnected","since":"t","alert":"held","simulcastTargets":{}}]}`), &listed); err != nil || listed.Streams[0].Alert != AlertHeld {
		t.Fatalf("listing alert: %+v %v", listed, err)
	}
}

func TestStateKeepsOtherWorkspacesOff(t *testing.T) {
	s := NewState(NewHub(8, 8), "ws-1")
	other := change("s9", "", "active", "2026-12-04T10:00:00Z")
	other.Workspace.ID = "ws-2"
	if ok, _ := s.Apply(other); ok || s.Len() != 0 {
		t.Fatal("a change of another workspace reached the board")
	}
}

func TestLoadKeepsChangesNewerThanTheListing(t *testing.T) {
	s := NewState(NewHub(8, 8), "")
	// The feed is followed before the listing is read: a change may come first.
	s.Apply(change("s1", "", "active", "2026-12-04T10:05:00Z"))
	s.Apply(change("s1", "yt", "broadcasting", "2026-12-04T10:05:00Z"))
	s.Load([]Stream{{StreamID: "s1", Status: "idle", Since: "2026-12-04T10:00:00Z", SimulcastTargets: map[string]Target{
		"yt": {Status: "created", Since: "2026-12-04T10:00:00Z"}, "tw": {Status: "created", Since: "2026-12-04T10:00:00Z"}}}}, time.Now())
	st := s.Snapshot().Streams[0]
	if st.Status != "active" || st.SimulcastTargets["yt"].Status != "broadcasting" || st.SimulcastTargets["tw"].Status != "created" {
		t.Fatalf("after load %+v", st)
	}
}

func TestDecodeChangeRefusesOddShapes(t *testing.T) {
	for _, m := range []string{``, `null`, `[]`, `{"streamId":"s"}`, `{"status":"active"}`, `{"streamId":1,"status":"a"}`, `{"Type":"Notification","Message":"{}"}`} {
		if _, err := DecodeChange([]byte(m)); err == nil {
			t.Errorf("%q decoded", m)
		}
	}
	c, err := DecodeChange([]byte(`{"streamId":"<script>alert(1)</script>","status":"active","workspace":{"id":"w"},"type":"video.live_stream.active","occurredAt":"2026-12-04T10:00:00Z","alert":"held","extra":{"x":1}}`))
	if err != nil || c.StreamID != "<script>alert(1)</script>" || c.Workspace.ID != "w" || *c.Alert != "held" {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestHandler(t *testing.T) {
	s := NewState(NewHub(8, 8), "")
	s.Apply(change("<img src=x onerror=alert(1)>", "", "active", "2026-12-04T10:00:00Z"))
	srv := httptest.NewServer(Handler(s, s.hub, true))
	defer srv.Close()

	get := func(path, host string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get("/", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `<script src="app.js"`) || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("page: %d %q %.80q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"), body)
	}
	resp, body = get("/api/fleet", "localhost:1234")
	var snap Snapshot
	if err := json.Unmarshal([]byte(body), &snap); err != nil || resp.StatusCode != 200 || len(snap.Streams) != 1 || snap.LastEventID == "" {
		t.Fatalf("fleet: %d %s", resp.StatusCode, body)
	}
	if strings.Contains(body, "<img") {
		t.Fatalf("the snapshot carries raw markup: %s", body) // encoding/json escapes < and >
	}
	for _, host := range []string{"evil.example", "evil.example:80", "127.0.0.1.nip.io", "10.0.0.1"} {
		if resp, _ := get("/api/fleet", host); resp.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("Host %s: %d, want 421", host, resp.StatusCode)
		}
	}
	for _, host := range []string{"localhost", "127.0.0.1:8080", "[::1]:8080", "LOCALHOST."} {
		if resp, _ := get("/api/fleet", host); resp.StatusCode != http.StatusOK {
			t.Errorf("Host %s: %d, want 200", host, resp.StatusCode)
		}
	}
	if resp, _ := get("/web/app.js", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/web/app.js: %d", resp.StatusCode)
	}
}

// TestPageWritesNoMarkup keeps the page's script on text-only APIs: the
// properties and calls that parse a string as HTML must not appear.
func TestPageWritesNoMarkup(t *testing.T) {
	js, err := webFiles.ReadFile("web/app.js")
	if err != nil {
		t.Fatal(err)
	}
	bad := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\(['"]on|createContextualFragment|srcdoc`)
	if m := bad.FindAll(js, -1); len(m) > 0 {
		t.Fatalf("app.js uses %q", m)
	}
	if !strings.Contains(string(js), "function alertMark(") {
		t.Fatal("app.js lost its one reader of the alert marking")
	}
}

func TestIsLoopbackAddr(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:8080": true, "localhost:0": true, "[::1]:80": true, ":8080": false, "0.0.0.0:8080": false, "192.168.1.2:80": false, "bad": false} {
		if IsLoopbackAddr(addr) != want {
			t.Errorf("%s: want %v", addr, want)
		}
	}
}

// Times written with a varying number of fractional digits (RFC 3339 as
// most producers write it) still order as times, not as text.
func TestStateComparesTimesAsTimes(t *testing.T) {
	s := NewState(NewHub(8, 8), "")
	s.Apply(change("s1", "", "active", "2026-12-04T10:00:00Z"))
	if ok, _ := s.Apply(change("s1", "", "disconnected", "2026-12-04T10:00:00.5Z")); !ok {
		t.Fatal("a change half a second later was taken as older")
	}
	if ok, _ := s.Apply(change("s1", "", "active", "2026-12-04T10:00:00.400000000Z")); ok {
		t.Fatal("a change 0.1 s older was applied")
	}
	if ok, _ := s.Apply(change("s1", "", "idle", "2026-12-04T11:00:00+01:00")); ok {
		t.Fatal("10:00 UTC written with an offset is older than 10:00:00.5Z")
	}
	if st := s.Snapshot().Streams[0]; st.Status != "disconnected" {
		t.Fatalf("status %s", st.Status)
	}
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"2026-12-04T10:00:00Z", "2026-12-04T10:00:00.000000001Z", true},
		{"", "2026-12-04T10:00:00Z", true},
		{"garbage", "garbage", false},
	} {
		if before(c.a, c.b) != c.want {
			t.Errorf("before(%q, %q) != %v", c.a, c.b, c.want)
		}
	}
}

// flakyQueues fails its first receives, then hands out one change.
type flakyQueues struct {
	Queues
	fails    int
	received int
}

func (q *flakyQueues) Receive(ctx context.Context, _ string, _ time.Duration) ([]QueueMessage, error) {
	q.received++
	if q.received <= q.fails {
		return nil, errors.New("sqs: connection refused")
	}
	if q.received == q.fails+1 {
		return []QueueMessage{{Body: `{"streamId":"s1","status":"active","occurredAt":"2026-12-04T10:00:00Z"}`, Receipt: "r1"}}, nil
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func (q *flakyQueues) Delete(context.Context, string, []string) error { return nil }

// A feed that cannot be read is reported to the pages, and so is its
// return.
func TestFeedOutageReachesThePages(t *testing.T) {
	hub := NewHub(16, 16)
	s := NewState(hub, "")
	f := &Follower{Queues: &flakyQueues{fails: 1}, queueURL: "q", Log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, _ := hub.subscribe("")
	done := make(chan error, 1)
	go func() {
		done <- f.Run(ctx, func(c Change) { s.Apply(c) }, s.SetFeed)
	}()
	var names []string
	var outage FeedEvent
	for len(names) < 3 {
		e := <-c.ch
		names = append(names, e.Name)
		if len(names) == 1 {
			json.Unmarshal(e.Data, &outage)
		}
	}
	cancel()
	<-done
	if strings.Join(names, ",") != "feed,feed,stream" || outage.OK || !strings.Contains(outage.Error, "connection refused") {
		t.Fatalf("events %v, first %+v", names, outage)
	}
	if snap := s.Snapshot(); snap.FeedError != "" {
		t.Fatalf("feed error after recovery: %q", snap.FeedError)
	}
	s.SetFeed(errors.New("x"))
	if snap := s.Snapshot(); !strings.Contains(snap.FeedError, "x") {
		t.Fatalf("snapshot feed error %q", snap.FeedError)
	}
}
