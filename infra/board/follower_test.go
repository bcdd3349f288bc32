package board

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/changefeed"
)

// publishChange publishes c to the topic as the notifier's feed does:
// the JSON and its filter attributes.
func publishChange(t *testing.T, client *sns.Client, topic string, c changefeed.Change) {
	t.Helper()
	m, err := changefeed.Message(c)
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string]snstypes.MessageAttributeValue{}
	for k, v := range m.Attributes {
		attrs[k] = snstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	if _, err := client.Publish(context.Background(), &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String(m.Default), MessageAttributes: attrs}); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

func newFollower(t *testing.T, topic, workspace string, pid int) *Follower {
	return &Follower{
		SNS: testenv.SNS(t), Queues: &QueryQueues{Endpoint: testenv.SNSEndpoint(t)}, TopicARN: topic, Workspace: workspace,
		Wait: time.Second, Host: "testhost", PID: pid, Log: slog.New(slog.DiscardHandler),
	}
}

func subscriptionsOf(t *testing.T, topic string) []string {
	t.Helper()
	out, err := testenv.SNS(t).ListSubscriptionsByTopic(context.Background(), &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic)})
	if err != nil {
		t.Fatal(err)
	}
	var eps []string
	for _, s := range out.Subscriptions {
		eps = append(eps, aws.ToString(s.Endpoint))
	}
	return eps
}

func queuesOf(t *testing.T, prefix string) []string {
	t.Helper()
	urls, err := (&QueryQueues{Endpoint: testenv.SNSEndpoint(t)}).List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	return urls
}

func TestFollowerFollowsTheFeedOfItsWorkspace(t *testing.T) {
	if testing.Short() {
		t.Skip("talks to goaws")
	}
	client := testenv.SNS(t)
	topic := testenv.CreateTopic(t, client, "StreamChangesTopic")
	f := newFollower(t, topic, "ws-1", 4242)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.QueueURL(), QueuePrefix+"testhost-4242-") {
		t.Fatalf("queue %s", f.QueueURL())
	}
	var mu sync.Mutex
	var got []Change
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- f.Run(runCtx, func(c Change) { mu.Lock(); got = append(got, c); mu.Unlock() }, nil)
	}()
	publishChange(t, client, topic, changefeed.Change{StreamID: "other", WorkspaceID: "ws-2", Status: "active", EventID: "e0", EventType: "video.live_stream.active", OccurredAt: "2026-12-04T10:00:00Z"})
	publishChange(t, client, topic, changefeed.Change{StreamID: "<b>s1</b>", WorkspaceID: "ws-1", Status: "active", EventID: "e1", EventType: "video.live_stream.active", OccurredAt: "2026-12-04T10:00:01Z"})
	publishChange(t, client, topic, changefeed.Change{StreamID: "<b>s1</b>", SimulcastTargetID: "yt", WorkspaceID: "ws-1", Status: "broadcasting", EventID: "e2", EventType: "video.live_stream.simulcast_target.broadcasting", OccurredAt: "2026-12-04T10:00:02Z"})
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a change of ws-2 would have come by now
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.SortFunc(got, func(a, b Change) int { return strings.Compare(a.EventID, b.EventID) })
	if len(got) != 2 || got[0].StreamID != "<b>s1</b>" || got[1].SimulcastTargetID != "yt" || got[1].Workspace.ID != "ws-1" {
		t.Fatalf("got %+v, want e1 and e2 of ws-1 only", got)
	}
	// Nothing left in the queue: what was read was deleted.
	if ms, err := f.Queues.Receive(ctx, f.QueueURL(), 0); err != nil || len(ms) != 0 {
		t.Fatalf("the queue still holds %d messages (%v)", len(ms), err)
	}

	queue := f.QueueURL()
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if qs := queuesOf(t, QueuePrefix+"testhost-4242-"); len(qs) != 0 {
		t.Fatalf("queues after Close: %v (was %s)", qs, queue)
	}
	if subs := subscriptionsOf(t, topic); len(subs) != 0 {
		t.Fatalf("subscriptions after Close: %v", subs)
	}
	if err := f.Close(ctx); err != ErrNotStarted {
		t.Fatalf("second Close: %v", err)
	}
}

func TestSweepRemovesWhatACrashedBoardLeft(t *testing.T) {
	if testing.Short() {
		t.Skip("talks to goaws")
	}
	client := testenv.SNS(t)
	topic := testenv.CreateTopic(t, client, "StreamChangesTopic")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alive := map[int]bool{7001: true, 7003: true}
	start := func(pid int, host string) *Follower {
		f := newFollower(t, topic, "", pid)
		f.Host = host
		if err := f.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return f
	}
	crashed := start(7002, "testhost")   // its process is gone, never closed
	running := start(7001, "testhost")   // another board of this machine, still running
	elsewhere := start(7009, "otherbox") // another machine's: not ours to judge
	defer running.Close(ctx)
	defer elsewhere.Close(ctx)

	next := newFollower(t, topic, "", 7003)
	next.Alive = func(pid int) bool { return alive[pid] }
	removed, err := next.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 || !slices.Contains(removed, crashed.QueueURL()) {
		t.Fatalf("removed %v, want the crashed board's queue and subscription", removed)
	}
	left := subscriptionsOf(t, topic)
	if len(left) != 2 || slices.ContainsFunc(left, func(ep string) bool { return strings.Contains(ep, "-7002-") }) {
		t.Fatalf("subscriptions left: %v", left)
	}
	qs := queuesOf(t, QueuePrefix)
	if slices.Contains(qs, crashed.QueueURL()) || !slices.Contains(qs, running.QueueURL()) || !slices.Contains(qs, elsewhere.QueueURL()) {
		t.Fatalf("queues left: %v", qs)
	}
	// processAlive itself: this process runs, an unused pid does not.
	if !processAlive(os.Getpid()) || processAlive(1<<22+12345) {
		t.Fatal("processAlive")
	}
}

// A board killed with SIGKILL whose parent has not reaped it yet is a
// zombie: it answers signal 0, but its queue is a leftover all the same.
func TestProcessAliveSeesAZombieAsDead(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep command: %v", err)
	}
	pid := cmd.Process.Pid
	if !processAlive(pid) {
		t.Fatal("a running process seen as dead")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Not reaped yet: wait until the kernel has made it a zombie.
	deadline := time.Now().Add(5 * time.Second)
	for processAlive(pid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	alive := processAlive(pid)
	_ = cmd.Wait()
	if alive {
		t.Fatal("a killed, unreaped process seen as alive")
	}
}

func TestParseQueueName(t *testing.T) {
	for in, want := range map[string]int{
		"fastpix-board-ab12cd34-42-0a0b0c":                                      42,
		"arn:aws:sqs:us-east-1:1:fastpix-board-ab12cd34-42-0a0b0c":              42,
		"https://sqs.us-east-1.amazonaws.com/1/fastpix-board-ab12cd34-7-ffffff": 7,
		"fastpix-board-ab12cd34-0-ffffff":                                       0,
		"fastpix-board-ab12cd34-x-ffffff":                                       0,
		"fastpix-board-ab12cd34-42":                                             0,
		"NotifierDeadLetterQueue":                                               0,
		"fastpix-board-a-b-1-c":                                                 0,
	} {
		_, pid, ok := parseQueueName(in)
		if (want != 0) != ok || pid != want {
			t.Errorf("%s: pid %d ok %v, want %d", in, pid, ok, want)
		}
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(QueuePolicy("arn:q", "arn:t")), &p); err != nil || !strings.Contains(QueuePolicy("arn:q", "arn:t"), `"aws:SourceArn":"arn:t"`) {
		t.Fatalf("policy %v", err)
	}
}

// fakeFleet is the query API's listing, from memory.
type fakeFleet struct {
	streams []Stream
	calls   int
	mu      sync.Mutex
}

func (f *fakeFleet) List(context.Context, []string, string) ([]Stream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.streams, nil
}

// TestRunFollowsTheFeedToTheBrowser runs the whole board against goaws: a
// change published to the topic reaches an event stream, and the queue is
// gone after exit.
func TestRunFollowsTheFeedToTheBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("talks to goaws")
	}
	client := testenv.SNS(t)
	topic := testenv.CreateTopic(t, client, "StreamChangesTopic")
	f := newFollower(t, topic, "", 5151)
	fleet := &fakeFleet{streams: []Stream{{StreamID: "s1", Status: "idle", Since: "2026-12-04T09:00:00Z"}}}
	hub := NewHub(0, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(runCtx, Config{Addr: "127.0.0.1:0", Fleet: fleet, Follower: f, Hub: hub, Log: slog.New(slog.DiscardHandler),
			Ready: func(url string, _ int) { ready <- url }})
	}()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	var snap Snapshot
	resp, err := http.Get(base + "/api/fleet")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&snap)
	resp.Body.Close()
	if len(snap.Streams) != 1 || snap.Streams[0].Status != "idle" {
		t.Fatalf("snapshot %+v", snap)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/events?since="+snap.LastEventID, nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := hub.Wait(ctx, 1); err != nil {
		t.Fatal(err)
	}
	publishChange(t, client, topic, changefeed.Change{StreamID: "s1", Status: "active", EventID: "e1", EventType: "video.live_stream.active", OccurredAt: "2026-12-04T10:00:00Z"})
	r := &sseReader{r: bufioReader(resp)}
	e, err := r.next()
	if err != nil {
		t.Fatal(err)
	}
	var se StreamEvent
	if err := json.Unmarshal([]byte(e.Data), &se); err != nil || e.Name != EventStream || se.Stream.Status != "active" {
		t.Fatalf("event %+v (%v)", e, err)
	}
	queue := f.QueueURL()
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if qs := queuesOf(t, QueuePrefix+"testhost-5151-"); len(qs) != 0 {
		t.Fatalf("queue %s left after exit: %v", queue, qs)
	}
	if fleet.calls != 1 {
		t.Fatalf("the fleet was read %d times, want once", fleet.calls)
	}
}

// A queue deleted under a running board (by hand, or by a sweep on
// another machine's mistake) is replaced: a new queue and subscription,
// the caller told to re-read the fleet, and the feed followed again.
func TestFollowerReplacesADeletedQueue(t *testing.T) {
	if testing.Short() {
		t.Skip("talks to goaws")
	}
	client := testenv.SNS(t)
	topic := testenv.CreateTopic(t, client, "StreamChangesTopic")
	f := newFollower(t, topic, "", 6161)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.Start(ctx); err != nil {
		t.Fatal(err)
	}
	first := f.QueueURL()
	resubscribed := make(chan struct{}, 1)
	f.Resubscribed = func(context.Context) { resubscribed <- struct{}{} }
	var mu sync.Mutex
	var health []string
	got := make(chan Change, 1)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- f.Run(runCtx, func(c Change) { got <- c }, func(err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				health = append(health, "error")
			} else {
				health = append(health, "ok")
			}
		})
	}()
	if err := f.Queues.DeleteQueue(ctx, first); err != nil {
		t.Fatal(err)
	}
	select {
	case <-resubscribed:
	case <-ctx.Done():
		t.Fatal("no new subscription after the queue was deleted")
	}
	publishChange(t, client, topic, changefeed.Change{StreamID: "s1", Status: "active", EventID: "e1", EventType: "video.live_stream.active", OccurredAt: "2026-12-04T10:00:00Z"})
	select {
	case c := <-got:
		if c.StreamID != "s1" {
			t.Fatalf("got %+v", c)
		}
	case <-ctx.Done():
		t.Fatal("no change through the new queue")
	}
	stop()
	<-done
	if f.QueueURL() == first || f.QueueURL() == "" {
		t.Fatalf("queue %s, first %s", f.QueueURL(), first)
	}
	mu.Lock()
	if strings.Join(health, ",") != "error,ok" {
		t.Errorf("health %v, want error then ok", health)
	}
	mu.Unlock()
	if subs := subscriptionsOf(t, topic); len(subs) != 1 || !strings.HasSuffix(f.QueueURL(), subs[0][strings.LastIndex(subs[0], ":")+1:]) {
		t.Fatalf("subscriptions %v: want only the new queue's", subs)
	}
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
