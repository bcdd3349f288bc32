package proof

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/checkqueue"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// firstFails is SNS failing the first attempt of every alert (by its
// default rendering), in the middle of records and of checks alike.
type firstFails struct {
	alerts.PublishAPI
	mu       sync.Mutex
	tried    map[string]bool
	sent     map[string]int // successful publishes by alert
	fails    int
	attempts int
}

func (f *firstFails) Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error) {
	var doc map[string]string
	if err := json.Unmarshal([]byte(*in.Message), &doc); err != nil {
		return nil, err
	}
	var def struct {
		EventID string `json:"eventId"`
		Alert   string `json:"alert"`
	}
	if err := json.Unmarshal([]byte(doc["default"]), &def); err != nil || def.Alert == "" {
		return nil, fmt.Errorf("not a rules' alert: %s", doc["default"])
	}
	key := def.Alert + " " + def.EventID
	f.mu.Lock()
	f.attempts++
	first := !f.tried[key]
	f.tried[key] = true
	if first {
		f.fails++
	}
	f.mu.Unlock()
	if first {
		return nil, fmt.Errorf("SNS unavailable (injected, first attempt of %s)", key)
	}
	out, err := f.PublishAPI.Publish(ctx, in, opts...)
	if err == nil {
		f.mu.Lock()
		f.sent[key]++
		f.mu.Unlock()
	}
	return out, err
}

// heldChecks is the check queue, in memory, on the test's clock.
type heldChecks struct {
	mu  sync.Mutex
	now func() time.Time
	q   []heldCheck
	// sent counts every Enqueue: checks queued by the notifier, and the
	// test's redeliveries.
	sent int
}

type heldCheck struct {
	c   checkqueue.Check
	due time.Time
}

func (h *heldChecks) Enqueue(_ context.Context, c checkqueue.Check, delay time.Duration) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sent++
	h.q = append(h.q, heldCheck{c: c, due: h.now().Add(delay)})
	return nil
}

// due takes the checks due at t.
func (h *heldChecks) due(t time.Time) []checkqueue.Check {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []checkqueue.Check
	rest := h.q[:0]
	for _, c := range h.q {
		if c.due.After(t) {
			rest = append(rest, c)
		} else {
			out = append(out, c.c)
		}
	}
	h.q = rest
	return out
}

// TestStormOfDrops: many streams at once, each flapping, dropping for good,
// dropping briefly, or dropping with its disconnect delivered late, through
// the notifier with the alert rules against DynamoDB Local and goaws, on a
// test clock. SNS fails the first attempt of every alert (records are
// retried as Lambda does, checks delivered again as SQS does), and every
// check is delivered a second time. The alerts that leave are exactly the
// model's: each once, none twice, none lost.
func TestStormOfDrops(t *testing.T) {
	const nStreams = 40
	t0 := time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)
	var clockMu sync.Mutex
	now := t0
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }

	ddb := testenv.DynamoDB(t)
	table := testenv.CreateTable(t, ddb, "StreamStateTable")
	counted := newStormCounter()
	store := &streamstate.Store{Table: table, Client: dynamodb.NewFromConfig(testenv.AWSConfig(), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(testenv.DynamoDBEndpoint(t))
		o.HTTPClient = counted
	})}
	snsc := testenv.SNS(t)
	live, down := testenv.CreateTopic(t, snsc, "live"), testenv.CreateTopic(t, snsc, "down")
	flaky := &firstFails{PublishAPI: snsc, tried: map[string]bool{}, sent: map[string]int{}}
	queue := &heldChecks{now: clock}
	n := &notify.Notifier{
		State: store, Publisher: &alerts.SNSPublisher{Client: flaky},
		Routes: alerts.Routes{"video.live_stream.active": live, "video.live_stream.disconnected": down},
		Rules:  &notify.Rules{Settings: alertrules.Defaults(), Store: store, Queue: queue},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clock,
	}

	// Each stream's deliveries (arrival second, event id, action, occurred
	// second) and the alerts the model expects ("kind eventId").
	type delivery struct {
		arrival    int
		id, action string
		occurred   int
		stream     string
	}
	var plan []delivery
	want := map[string]int{}
	kinds := map[string]int{}
	for i := range nStreams {
		s := fmt.Sprintf("storm-drops-%02d", i)
		ev := func(arrival int, id, action string, occurred int) {
			plan = append(plan, delivery{arrival: arrival, id: s + "/" + id, action: action, occurred: occurred, stream: s})
		}
		expect := func(kind, id string) { want[kind+" "+s+"/"+id]++ }
		off := i % 7 // streams not in lockstep
		ev(off, "a0", "active", off)
		expect("live", "a0")
		switch i % 4 {
		case 0: // flapping: five brief drops in five minutes, one unstable alert
			for d := 1; d <= 5; d++ {
				at := off + 60*d
				ev(at, fmt.Sprintf("d%d", d), "disconnected", at)
				ev(at+5, fmt.Sprintf("a%d", d), "active", at+5)
			}
			expect("unstable", "a3")
			kinds["flapping"]++
		case 1: // down for good, then back: the check alerts, the active recovers
			ev(off+100, "d1", "disconnected", off+100)
			ev(off+400, "a1", "active", off+400)
			expect("disconnected", "d1")
			expect("recovery", "a1")
			kinds["dropped"]++
		case 2: // one brief drop: nothing
			ev(off+100, "d1", "disconnected", off+100)
			ev(off+105, "a1", "active", off+105)
			kinds["brief"]++
		case 3: // the disconnect delivered after its grace: decided at once
			ev(off+140, "d1", "disconnected", off+100)
			ev(off+200, "a1", "active", off+200)
			expect("disconnected", "d1")
			expect("recovery", "a1")
			kinds["late"]++
		}
	}
	sort.SliceStable(plan, func(i, j int) bool { return plan[i].arrival < plan[j].arrival })

	ctx := context.Background()
	process := func(d delivery) {
		r := eventstore.Record{
			EventID: d.id, Type: "video.live_stream." + d.action, StreamID: d.stream, WorkspaceName: "Storm",
			OccurredAt: eventstore.FormatTime(t0.Add(time.Duration(d.occurred) * time.Second)), ReceivedAt: eventstore.FormatTime(clock()),
			Payload: fmt.Sprintf(`{"id":%q,"type":"video.live_stream.%s","data":{"streamId":%q}}`, d.id, d.action, d.stream),
		}
		for attempt := 1; ; attempt++ { // Lambda retries the record
			_, err := n.Process(ctx, r)
			if err == nil {
				return
			}
			if attempt == 5 {
				t.Errorf("%s: %v", d.id, err)
				return
			}
		}
	}
	var retriedChecks, redelivered int
	var mu sync.Mutex
	next := 0
	for sec := 0; sec <= 1200; sec++ {
		clockMu.Lock()
		now = t0.Add(time.Duration(sec) * time.Second)
		clockMu.Unlock()
		// This second's deliveries: streams at once, each stream's in order.
		byStream := map[string][]delivery{}
		for ; next < len(plan) && plan[next].arrival == sec; next++ {
			byStream[plan[next].stream] = append(byStream[plan[next].stream], plan[next])
		}
		var wg sync.WaitGroup
		for _, ds := range byStream {
			wg.Go(func() {
				for _, d := range ds {
					process(d)
				}
			})
		}
		wg.Wait()
		for _, c := range queue.due(clock()) {
			wg.Go(func() {
				if err := n.Check(ctx, c); err != nil {
					// SQS delivers it again after the visibility timeout.
					mu.Lock()
					retriedChecks++
					mu.Unlock()
					_ = queue.Enqueue(ctx, c, 30*time.Second)
					return
				}
				// And once more, as SQS may.
				if c.WorkspaceName != "redelivered" {
					c.WorkspaceName = "redelivered"
					_ = queue.Enqueue(ctx, c, time.Second)
					mu.Lock()
					redelivered++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}

	var twice, lost, unexpected []string
	for key, k := range want {
		switch got := flaky.sent[key]; {
		case got == 0:
			lost = append(lost, key)
		case got > k:
			twice = append(twice, key)
		}
	}
	for key := range flaky.sent {
		if want[key] == 0 {
			unexpected = append(unexpected, key)
		}
	}
	if len(lost)+len(twice)+len(unexpected) > 0 {
		t.Errorf("lost %v\nsent twice %v\nnot in the model %v", lost, twice, unexpected)
	}
	byKind := map[string]int{}
	for key := range want {
		byKind[strings.Fields(key)[0]]++
	}
	reqs := counted.counts()
	line2 := fmt.Sprintf("storm: held disconnects: requests UpdateItem=%d GetItem=%d for %d events and %d check deliveries; SendMessage=%d; Publish attempts=%d",
		reqs["UpdateItem"], reqs["GetItem"], len(plan), queue.sent, queue.sent-redelivered-retriedChecks, flaky.attempts)
	line := fmt.Sprintf("storm: held disconnects: streams=%d (flapping=%d dropped=%d brief=%d late-disconnect=%d) events=%d alerts=%d (expected %d: live=%d unstable=%d disconnected=%d recovery=%d) first-attempt SNS failures=%d checks retried=%d redelivered=%d sent-twice=%d lost=%d",
		nStreams, kinds["flapping"], kinds["dropped"], kinds["brief"], kinds["late"], len(plan), len(flaky.sent), len(want),
		byKind["live"], byKind["unstable"], byKind["disconnected"], byKind["recovery"], flaky.fails, retriedChecks, redelivered, len(twice), len(lost))
	for _, l := range []string{line, line2} {
		t.Log(l)
		fmt.Println(l)
	}
}
