package proof

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/streamhook/fastpix-receiver/internal/emulator"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/ddbstream"
)

// stormOutage is the notifier's SNS client with a switch: after `after`
// successful Publish calls it stops the SNS emulator, between one publish
// and the next, so the outage starts in the middle of a batch at a known
// record.
type stormOutage struct {
	inner alerts.PublishAPI
	mu    sync.Mutex
	after int // stop once this many publishes succeeded; <0: never
	ok    int
	calls int
	stop  func()
}

func (o *stormOutage) Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error) {
	out, err := o.inner.Publish(ctx, in, opts...)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls++
	if err == nil {
		o.ok++
		if o.ok == o.after && o.stop != nil {
			o.stop()
			o.stop = nil
		}
	}
	return out, err
}

func (o *stormOutage) counts() (calls, ok int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls, o.ok
}

// TestSNSStoppedMidBatch stops the notifier's SNS (a goaws of its own) in
// the middle of a batch of 60 records of 6 streams, after half of the
// batch's alerts were published, and checks, against the model:
//   - the handler reports the record whose publish failed and every later
//     one as failed, by sequence number, and nothing earlier;
//   - every record not reported failed that had an alert to send was
//     published; no later alert was;
//   - a retry while SNS is still down fails the same way;
//   - after a restart on the same port, redelivering from the first failed
//     sequence number (as the event source mapping does) publishes every
//     remaining alert, and in the end each notable non-stale event was
//     published exactly once, and every state is at its newest event.
//
// Delivery of alerts is at-least-once by design: a Publish that SNS
// accepted but whose answer was lost is published again on the retry. That
// can only be the first failed record of a failed batch (processing stops
// there), so duplicates are bounded by the number of failed invocations;
// here SNS is stopped between publishes, so the bound is met with zero.
func TestSNSStoppedMidBatch(t *testing.T) {
	const seed = 20260302
	rng := rand.New(rand.NewSource(seed))
	evs := stormGenerate(rng, 6, 10)
	byID := map[string]*stormEvent{}
	for _, e := range evs {
		byID[e.id] = e
	}
	// One delivery each, in createdAt order with 10% moved later, one after
	// the other: the batch's order is then the delivery order.
	bodies, _ := stormPlan(rng, evs, len(evs)*6, 0.10)
	var once [][]byte
	sent := map[string]bool{}
	for _, b := range bodies {
		if !sent[string(b)] {
			sent[string(b)] = true
			once = append(once, b)
		}
	}

	ctx := context.Background()
	names := map[string]string{}
	topics := map[string]string{}
	var topicNames []string
	for _, key := range []string{stormTopicLive, stormTopicDown, stormTopicSimulcast} {
		names[key] = testenv.UniqueName(t, "Outage-"+key)
		topics[key] = emulator.TopicARN(names[key])
		topicNames = append(topicNames, names[key])
	}
	start := func(port int) *emulator.Process {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		p, err := emulator.StartSNS(sctx, emulator.SNSOptions{Port: port, Topics: topicNames})
		if err != nil {
			t.Fatalf("start goaws on port %d: %v", port, err)
		}
		t.Cleanup(p.Stop)
		return p
	}
	goaws := start(0)
	outage := &stormOutage{after: -1}
	r := newStormRig(t, goaws.Endpoint, topics, func(p alerts.PublishAPI) alerts.PublishAPI {
		outage.inner = p
		return outage
	})
	for _, b := range once {
		if code, status := r.deliver(t, b); code != 200 || status != "accepted" {
			t.Fatalf("delivery: %d %s", code, status)
		}
	}
	batch := ddbstream.FromStreamsRecords(r.reader.ARN, r.readInserts(t, len(byID)))
	if len(batch.Records) != len(byID) {
		t.Fatalf("%d stream records, want %d", len(batch.Records), len(byID))
	}
	var order, seqs []string
	for _, rec := range batch.Records {
		order = append(order, stormEventID(rec))
		seqs = append(seqs, rec.Change.SequenceNumber)
	}
	x := stormModel(byID, order)
	// The alerts in processing order, and where the outage must hit.
	var pubOrder []string
	isPub := map[string]bool{}
	for _, ids := range x.published {
		for _, id := range ids {
			isPub[id] = true
		}
	}
	for _, id := range order {
		if isPub[id] {
			pubOrder = append(pubOrder, id)
		}
	}
	k := len(pubOrder) / 2
	if k == 0 {
		t.Fatalf("only %d alerts in the batch", len(pubOrder))
	}
	failAt := slices.Index(order, pubOrder[k])
	outage.mu.Lock()
	outage.after, outage.stop = k, goaws.Stop
	outage.mu.Unlock()

	// 1. SNS goes away after k publishes.
	resp, err := r.handler.Handle(ctx, batch)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	failed := stormFailures(resp)
	if strings.Join(failed, ",") != strings.Join(seqs[failAt:], ",") {
		t.Fatalf("reported failed %d records from %v, want %d from %s (record %d, event %s)",
			len(failed), stormFirst(failed), len(seqs)-failAt, seqs[failAt], failAt, pubOrder[k])
	}
	got := r.received(t)
	var gotAll []string
	for _, ids := range got {
		gotAll = append(gotAll, ids...)
	}
	if a, b := strings.Join(stormSorted(gotAll), ","), strings.Join(stormSorted(pubOrder[:k]), ","); a != b {
		t.Errorf("during the outage subscribers got %v, want exactly the alerts of the records before the failure %v", gotAll, pubOrder[:k])
	}
	calls1, ok1 := outage.counts()

	// 2. Lambda retries from the first failed record while SNS is down.
	retry := events.DynamoDBEvent{Records: batch.Records[failAt:]}
	resp, err = r.handler.Handle(ctx, retry)
	if err != nil || strings.Join(stormFailures(resp), ",") != strings.Join(seqs[failAt:], ",") {
		t.Fatalf("retry during the outage: %v, failures %v; want the same %d records", err, stormFailures(resp), len(seqs)-failAt)
	}

	// 3. SNS comes back on the same port (goaws keeps no subscriptions).
	goaws = start(goaws.Port)
	plain := testenv.SNSAt(goaws.Endpoint)
	for key, arn := range topics {
		r.subs[key].Subscribe(t, plain, arn)
	}
	rounds := 0
	for from := failAt; from >= 0; rounds++ {
		if rounds == 5 {
			t.Fatalf("records still failing after %d retries", rounds)
		}
		resp, err := r.handler.Handle(ctx, events.DynamoDBEvent{Records: batch.Records[from:]})
		if err != nil {
			t.Fatalf("retry after the restart: %v", err)
		}
		from = -1
		if f := stormFailures(resp); len(f) > 0 {
			from = slices.Index(seqs, f[0])
		}
	}
	got = r.received(t)
	stormCheckPublished(t, got, x.published)
	duplicates := 0
	var all []string
	for _, ids := range got {
		all = append(all, ids...)
	}
	sort.Strings(all)
	for i := 1; i < len(all); i++ {
		if all[i] == all[i-1] {
			duplicates++
		}
	}
	if duplicates > 0 {
		t.Errorf("%d alerts published twice (bound: one per failed invocation; SNS was stopped between publishes, so none)", duplicates)
	}
	r.checkStates(t, evs, x)
	calls, ok := outage.counts()
	line := fmt.Sprintf("snsfailure: records=%d alerts=%d published-before-outage=%d failed-from=record %d (seq %s, event %s) failed-records=%d retries-during-outage=1 rounds-after-restart=%d publish-calls=%d (failed %d) published=%d duplicates=%d Publish-requests=%d",
		len(order), len(pubOrder), ok1, failAt, seqs[failAt], pubOrder[k], len(seqs)-failAt, rounds, calls, calls-ok, ok, duplicates, r.snsCount.counts()["Publish"])
	t.Log(line)
	fmt.Println(line)
	if ok != len(pubOrder) || calls1 != k+1 {
		t.Errorf("publish calls: %d succeeded in all, want %d; %d calls in the first invocation, want %d (stops at the first failure)", ok, len(pubOrder), calls1, k+1)
	}
}

func stormFailures(resp events.DynamoDBEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func stormFirst(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return s[0]
}
