package localstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/infra/demo"
	"github.com/streamhook/fastpix-receiver/infra/localstack"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/changefeed"
)

func getJSON(t *testing.T, rawURL string, v any) int {
	t.Helper()
	resp, err := http.Get(rawURL)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %s: %v", rawURL, body, err)
		}
	}
	for _, secret := range []string{"FP_TRgf4CswLZ9UcHH3yTxQ", "demo-simulcast-streamkey-not-a-real-one"} {
		if strings.Contains(string(body), secret) {
			t.Fatalf("GET %s leaked a credential: %s", rawURL, body)
		}
	}
	return resp.StatusCode
}

// TestLocalStack starts the whole stack in-process on free ports, sends the
// demo, reads the stream back through the query API over HTTP and checks
// the inbox got exactly the alerts the routing calls for.
func TestLocalStack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts DynamoDB Local and goaws")
	}
	logs, metrics := &testenv.SyncBuffer{}, &testenv.SyncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := localstack.Start(ctx, localstack.Config{
		LogDir:     t.TempDir(),
		Logger:     slog.New(slog.NewTextHandler(logs, nil)),
		Metrics:    metrics,
		RetryDelay: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			st.Stop()
		}
		if t.Failed() {
			t.Logf("stack log:\n%s", logs.String())
		}
	}()

	// The demo, signed with the stack's secret.
	sent, err := demo.Send(ctx, st.URL+localstack.WebhookPath, st.Secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	var stored []demo.Delivery
	var late demo.Delivery
	for _, s := range sent {
		want := `"status":"accepted"`
		if s.Duplicate {
			want = `"status":"duplicate"`
		}
		if s.Status != http.StatusOK || !strings.Contains(s.Answer, want) {
			t.Fatalf("%s %s: %d %s, want 200 %s", s.Type, s.EventID, s.Status, s.Answer, want)
		}
		if !s.Duplicate {
			stored = append(stored, s.Delivery)
		}
		if s.Late {
			late = s.Delivery
		}
	}
	if late.EventID == "" {
		t.Fatal("the demo has no late event")
	}

	// The timeline, oldest first, page by page through the cursor.
	type event struct {
		EventID    string          `json:"eventId"`
		Type       string          `json:"type"`
		OccurredAt string          `json:"occurredAt"`
		Payload    json.RawMessage `json:"payload"`
	}
	var got []event
	q := url.Values{"order": {"asc"}, "limit": {"4"}}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("the cursor never ends")
		}
		var page struct {
			Events     []event `json:"events"`
			NextCursor string  `json:"nextCursor"`
		}
		if code := getJSON(t, st.URL+"/streams/"+demo.StreamID+"/events?"+q.Encode(), &page); code != http.StatusOK {
			t.Fatalf("events: status %d", code)
		}
		got = append(got, page.Events...)
		if page.NextCursor == "" {
			break
		}
		q.Set("cursor", page.NextCursor)
	}
	if len(got) != len(stored) {
		t.Fatalf("the query API lists %d events, %d were stored", len(got), len(stored))
	}
	ids := map[string]bool{}
	for i, e := range got {
		ids[e.EventID] = true
		if i > 0 && e.OccurredAt < got[i-1].OccurredAt {
			t.Fatalf("events out of order: %s before %s", got[i-1].OccurredAt, e.OccurredAt)
		}
		var p map[string]any
		if err := json.Unmarshal(e.Payload, &p); err != nil || p["id"] != e.EventID {
			t.Fatalf("event %s: payload %s", e.EventID, e.Payload)
		}
	}
	for _, d := range stored {
		if !ids[d.EventID] {
			t.Fatalf("stored event %s (%s) missing from the query API", d.EventID, d.Type)
		}
	}

	// The state catches up with the last event; every record before it
	// has been processed by then (one shard, in order).
	var state struct {
		Status           string `json:"status"`
		LastEventType    string `json:"lastEventType"`
		SimulcastTargets map[string]struct {
			Status string `json:"status"`
		} `json:"simulcastTargets"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code := getJSON(t, st.URL+"/streams/"+demo.StreamID, &state)
		if code == http.StatusOK && state.LastEventType == "video.live_stream.idle" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state did not reach idle: %d %+v", code, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if state.Status != "idle" || state.SimulcastTargets[demo.SimulcastID].Status != "broadcasting" {
		t.Fatalf("state %+v", state)
	}

	// The alerts: one per stored, routed, not-late event, on its topic.
	want := map[string][]string{} // topic name → event ids
	for _, d := range stored {
		if arn, ok := st.Routes.Topic(d.Type); ok && !d.Late {
			name := arn[strings.LastIndex(arn, ":")+1:]
			want[name] = append(want[name], d.EventID)
		}
	}
	if len(want["StreamLiveTopic"]) != 1 || len(want["StreamDisconnectedTopic"]) != 1 || len(want["SimulcastBroadcastingTopic"]) != 1 {
		t.Fatalf("routing %v gives the demo unexpected alerts %v", st.Routes, want)
	}
	total := 0
	for _, v := range want {
		total += len(v)
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	alerts, err := st.Inbox.WaitFor(wctx, total)
	wcancel()
	if err != nil {
		t.Fatal(err)
	}
	gotAlerts := map[string][]string{}
	for _, a := range alerts {
		var def struct {
			EventID string `json:"eventId"`
		}
		if err := json.Unmarshal([]byte(a.Default), &def); err != nil {
			t.Fatalf("alert on %s: default rendering %q: %v", a.Topic, a.Default, err)
		}
		if def.EventID == late.EventID {
			t.Fatalf("the late, out-of-order %s alerted on %s", late.Type, a.Topic)
		}
		if a.Email == "" || a.SMS == "" || a.Subject == "" || a.Email == a.Default {
			t.Fatalf("alert on %s lacks its email or SMS rendering: %+v", a.Topic, a)
		}
		gotAlerts[a.Topic] = append(gotAlerts[a.Topic], def.EventID)
	}
	for _, m := range []map[string][]string{want, gotAlerts} {
		for _, v := range m {
			sort.Strings(v)
		}
	}
	if fmt.Sprint(gotAlerts) != fmt.Sprint(want) {
		t.Fatalf("inbox:\n got %v\nwant %v", gotAlerts, want)
	}

	// The change feed. The poller hands the stream's records to the
	// notifier in parallel lanes (ParallelizationFactor, by event id), so
	// which of the demo's events apply, and in what order, varies from run
	// to run: an event processed after a newer one of its stream is stale
	// and changes nothing. What never varies: one message per applied
	// change, each event at most once, each with the status it replaced,
	// so that per stream and target the messages ordered by occurredAt
	// form one unbroken chain ending in the state's final status; nothing
	// for the duplicate delivery. The inbox gets none of it.
	if st.Feed == nil || st.ChangesTopic == "" {
		t.Fatal("the stack has no change feed")
	}
	storedAt := map[string]demo.Delivery{}
	for _, d := range stored {
		storedAt[d.EventID] = d
	}
	final := map[string]string{"": "idle", demo.SimulcastID: "broadcasting"}
	var byKey map[string][]changefeed.Change
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		byKey = map[string][]changefeed.Change{}
		for _, c := range st.Feed.Changes() {
			byKey[c.SimulcastTargetID] = append(byKey[c.SimulcastTargetID], c)
		}
		// Done when each one's newest change (by occurredAt: SNS does not
		// keep order) is its final status; the created event makes the
		// stream idle too, so "contains" would not do.
		done := true
		for key, status := range final {
			cs := byKey[key]
			newest := slices.MaxFunc(append(cs, changefeed.Change{}), func(a, b changefeed.Change) int { return strings.Compare(a.OccurredAt, b.OccurredAt) })
			if newest.Status != status || newest.EventType == "video.live_stream.created" {
				done = false
			}
		}
		if done || time.Now().After(deadline) {
			break
		}
	}
	seen := map[string]bool{}
	for key, cs := range byKey {
		if _, ok := final[key]; !ok {
			t.Fatalf("feed messages about an unknown target %q: %+v", key, cs)
		}
		slices.SortFunc(cs, func(a, b changefeed.Change) int { return strings.Compare(a.OccurredAt, b.OccurredAt) })
		previous := ""
		for _, c := range cs {
			d, ok := storedAt[c.EventID]
			if !ok || seen[c.EventID] || c.StreamID != demo.StreamID || c.EventType != d.Type || c.WorkspaceID == "" {
				t.Fatalf("feed message %+v: not one stored event of the demo, once", c)
			}
			seen[c.EventID] = true
			if c.PreviousStatus != previous || c.Status == previous {
				t.Fatalf("feed of %q, by occurredAt: %+v follows status %q; want an unbroken chain of changes", key, c, previous)
			}
			previous = c.Status
		}
		if previous != final[key] {
			t.Fatalf("feed of %q ends in %q, the state in %q: %+v", key, previous, final[key], cs)
		}
	}
	for _, a := range st.Inbox.Alerts() {
		if a.TopicARN == st.ChangesTopic {
			t.Fatalf("the alert inbox got a change feed message: %+v", a)
		}
	}

	// The fleet: the demo stream is idle, with its target broadcasting.
	var fleet struct {
		Streams []struct {
			StreamID, Status string
			SimulcastTargets map[string]struct{ Status string }
		}
	}
	if code := getJSON(t, st.URL+"/streams?status=idle", &fleet); code != http.StatusOK || len(fleet.Streams) != 1 ||
		fleet.Streams[0].StreamID != demo.StreamID || fleet.Streams[0].SimulcastTargets[demo.SimulcastID].Status != "broadcasting" {
		t.Fatalf("GET /streams?status=idle: %d %+v", code, fleet)
	}
	if code := getJSON(t, st.URL+"/streams?status=active,connected", &fleet); code != http.StatusOK || len(fleet.Streams) != 0 {
		t.Fatalf("GET /streams?status=active,connected: %d %+v, want none", code, fleet)
	}

	// The functions are wired as in Lambda: both write their metrics.
	for _, fn := range []string{"webhook", "notifier"} {
		if !strings.Contains(metrics.String(), `"Function":"`+fn+`"`) {
			t.Errorf("no metric of the %s in %q", fn, metrics.String())
		}
	}

	// API Gateway's answers around the routes.
	for _, tc := range []struct {
		path string
		want int
	}{
		{"/streams/no-such-stream", http.StatusNotFound},
		{"/streams/no-such-stream/events", http.StatusNotFound},
		{"/streams/" + demo.StreamID + "/events?cursor=bm90LWEtY3Vyc29y", http.StatusBadRequest},
		{"/streams/" + demo.StreamID + "/events?limit=1000", http.StatusBadRequest},
		{"/streams", http.StatusBadRequest},
		{"/streams?status=live", http.StatusBadRequest},
		{"/nowhere", http.StatusNotFound},
	} {
		if code := getJSON(t, st.URL+tc.path, nil); code != tc.want {
			t.Errorf("GET %s: %d, want %d", tc.path, code, tc.want)
		}
	}
	// The webhook URL opened in a browser (or probed with another method)
	// says what it is, through the template's ANY route.
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodOptions} {
		req, _ := http.NewRequestWithContext(ctx, method, st.URL+localstack.WebhookPath, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var answer struct{ Status, Error string }
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost ||
			json.Unmarshal(body, &answer) != nil || !strings.Contains(answer.Error, "FastPix webhook endpoint") ||
			bytes.Count(bytes.TrimSpace(body), []byte("\n")) != 0 {
			t.Errorf("%s %s: %d Allow=%q %s; want 405, Allow: POST and what the URL is", method, localstack.WebhookPath, resp.StatusCode, resp.Header.Get("Allow"), body)
		}
	}

	// Stop leaves nothing listening.
	ddb := strings.TrimPrefix(st.DynamoDBEndpoint, "http://")
	sns := strings.TrimPrefix(st.SNSEndpoint, "http://")
	st.Stop()
	stopped = true
	for _, addr := range []string{ddb, sns, strings.TrimPrefix(st.URL, "http://")} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still answers after Stop", addr)
		}
	}
}
