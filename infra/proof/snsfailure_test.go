package proof

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
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
	// The event ids of the publishes that succeeded and failed, until
	// record is set to false.
	okIDs, failedIDs []string
	record           bool
}

func (o *stormOutage) Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error) {
	out, err := o.inner.Publish(ctx, in, opts...)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls++
	if o.record {
		var doc struct{ Default string }
		var def struct{ EventID string }
		_ = json.Unmarshal([]byte(aws.ToString(in.Message)), &doc)
		_ = json.Unmarshal([]byte(doc.Default), &def)
		if err == nil {
			o.okIDs = append(o.okIDs, def.EventID)
		} else {
			o.failedIDs = append(o.failedIDs, def.EventID)
		}
	}
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
// Delivery of alerts is at-least-once by design. One record at a time, a
// Publish that SNS accepted but whose answer was lost is published again on
// the retry; that can only be the first failed record of a failed batch
// (processing stops there), so duplicates are bounded by the number of
// failed invocations, and here, with SNS stopped between publishes, there
// are none. With the streams processed concurrently (the default), the
// alerts of records after the first failure that were already in flight or
// done are published again on the retry: the test checks that every
// duplicate is one of those, and that nothing else changes.
func TestSNSStoppedMidBatch(t *testing.T) {
	t.Run("one record at a time", func(t *testing.T) { testSNSStoppedMidBatch(t, 1) })
	t.Run("concurrent", func(t *testing.T) { testSNSStoppedMidBatch(t, 0) })
}

func testSNSStoppedMidBatch(t *testing.T, concurrency int) {
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
	r.handler.MaxConcurrency = concurrency
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
	outage.after, outage.stop, outage.record = k, goaws.Stop, true
	outage.mu.Unlock()

	// 1. SNS goes away after k publishes.
	resp, err := r.handler.Handle(ctx, batch)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	outage.mu.Lock()
	okIDs, failedIDs := outage.okIDs, outage.failedIDs
	outage.record = false
	outage.mu.Unlock()
	if concurrency != 1 {
		// Which record failed first depends on what ran at once: the
		// lowest index among the failed publishes.
		failAt = len(order)
		for _, id := range failedIDs {
			failAt = min(failAt, slices.Index(order, id))
		}
		if failAt == len(order) {
			t.Fatalf("no publish failed after SNS stopped (%d succeeded)", len(okIDs))
		}
		if k = slices.Index(pubOrder, order[failAt]); k < 0 {
			t.Fatalf("the first failed publish, of %s, is not an alert the model expects", order[failAt])
		}
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
	if concurrency == 1 {
		if a, b := strings.Join(stormSorted(gotAll), ","), strings.Join(stormSorted(pubOrder[:k]), ","); a != b {
			t.Errorf("during the outage subscribers got %v, want exactly the alerts of the records before the failure %v", gotAll, pubOrder[:k])
		}
	} else {
		// Every alert before the failure; after it, only what was in
		// flight or done when the failure was known.
		if missing := stormMinus(pubOrder[:k], gotAll); len(missing) > 0 {
			t.Errorf("during the outage subscribers did not get %v, alerts of records before the first failure", missing)
		}
		if extra := stormMinus(gotAll, append(slices.Clone(okIDs), failedIDs...)); len(extra) > 0 {
			t.Errorf("during the outage subscribers got %v, which no publish sent", extra)
		}
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
	duplicates := 0
	var all []string
	for _, ids := range got {
		all = append(all, ids...)
	}
	sort.Strings(all)
	for i := 1; i < len(all); i++ {
		if all[i] == all[i-1] {
			duplicates++
			// What a retry may repeat: a record after the first failure
			// whose publish went out (or may have) before the retry.
			if concurrency != 1 && !(slices.Index(order, all[i]) > failAt && slices.Contains(okIDs, all[i])) && !slices.Contains(failedIDs, all[i]) {
				t.Errorf("alert of %s published twice, but it was not after the failure and done before the retry", all[i])
			}
		}
	}
	if concurrency == 1 {
		stormCheckPublished(t, got, x.published)
		if duplicates > 0 {
			t.Errorf("%d alerts published twice (bound: one per failed invocation; SNS was stopped between publishes, so none)", duplicates)
		}
	} else {
		dedup := map[string][]string{}
		for key, ids := range got {
			dedup[key] = slices.Compact(stormSorted(ids))
		}
		stormCheckPublished(t, dedup, x.published) // every alert, nothing else
	}
	r.checkStates(t, evs, x)
	calls, ok := outage.counts()
	line := fmt.Sprintf("snsfailure (concurrency %d): records=%d alerts=%d published-before-outage=%d failed-from=record %d (seq %s, event %s) failed-records=%d retries-during-outage=1 rounds-after-restart=%d publish-calls=%d (failed %d) published=%d duplicates=%d Publish-requests=%d",
		concurrency, len(order), len(pubOrder), ok1, failAt, seqs[failAt], pubOrder[k], len(seqs)-failAt, rounds, calls, calls-ok, ok, duplicates, r.snsCount.counts()["Publish"])
	t.Log(line)
	fmt.Println(line)
	if concurrency == 1 && (ok != len(pubOrder) || calls1 != k+1) {
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
