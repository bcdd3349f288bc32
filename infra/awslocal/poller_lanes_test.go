package awslocal_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamhook/fastpix-receiver/infra/awslocal"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
)

// TestPollerParallelization: with ParallelizationFactor 4 the poller hands
// a shard's records to the handler in several batches at once, each record
// once, each batch in stream order and at most BatchSize long; a failure
// reported in one lane is delivered again in that lane only, from the failed
// record on.
func TestPollerParallelization(t *testing.T) {
	client := testenv.DynamoDB(t)
	streams := testenv.Streams(t)
	filter := insertsOnly(t)
	table := testenv.CreateTable(t, client, "EventLogTable")
	desc, err := client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	const n, batchSize = 60, 5
	for i := range n {
		put(t, client, table, fmt.Sprintf("e%02d", i), "v1")
	}

	var (
		mu          sync.Mutex
		seen        = map[string]int{}
		inFlight    int
		maxInFlight int
		oversized   []int
		unordered   [][]string
		failedOnce  []string // the records reported failed, and those after them in their batch
		redelivered []string // ids delivered again after the failure
	)
	bothIn := make(chan struct{})
	var bothOnce sync.Once
	handler := func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		var ids, seqs []string
		for _, r := range ev.Records {
			ids = append(ids, r.Change.Keys["eventId"].String())
			seqs = append(seqs, r.Change.SequenceNumber)
		}
		mu.Lock()
		inFlight++
		maxInFlight = max(maxInFlight, inFlight)
		if inFlight >= 2 {
			bothOnce.Do(func() { close(bothIn) })
		}
		if len(ids) > batchSize {
			oversized = append(oversized, len(ids))
		}
		if !slices.IsSortedFunc(seqs, compareSequenceNumbers) {
			unordered = append(unordered, ids)
		}
		for _, id := range ids {
			seen[id]++
			if seen[id] > 1 {
				redelivered = append(redelivered, id)
			}
		}
		var resp events.DynamoDBEventResponse
		if failedOnce == nil && len(ids) > 1 {
			failedOnce = ids[1:] // from the second record of the first batch of more than one
			resp.BatchItemFailures = []events.DynamoDBBatchItemFailure{{ItemIdentifier: seqs[1]}}
		}
		mu.Unlock()
		// Wait (a little) for a second batch to be in flight.
		select {
		case <-bothIn:
		case <-time.After(2 * time.Second):
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
		return resp, nil
	}
	p := &awslocal.Poller{
		Client: streams, StreamARN: aws.ToString(desc.Table.LatestStreamArn), Handler: handler, Filter: filter,
		StartingPosition: "TRIM_HORIZON", BatchSize: batchSize, ParallelizationFactor: 4, ReportBatchItemFailures: true,
		MaximumRetryAttempts: -1, Interval: 20 * time.Millisecond, RetryDelay: 20 * time.Millisecond,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		got := len(seen)
		mu.Unlock()
		if got == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // anything more would have come by now
	cancel()
	<-done

	mu.Lock()
	defer mu.Unlock()
	if len(seen) != n {
		t.Fatalf("%d of %d records reached the handler", len(seen), n)
	}
	if maxInFlight < 2 || maxInFlight > 4 {
		t.Errorf("at most %d batches in flight at once, want 2 to 4", maxInFlight)
	}
	if len(oversized) > 0 || len(unordered) > 0 {
		t.Errorf("batches over BatchSize %d: %v; batches out of stream order: %v", batchSize, oversized, unordered)
	}
	// Only the failed record and what followed it in its lane come again.
	if !slices.Equal(redelivered, failedOnce) {
		t.Errorf("delivered again %v, want the failed record and the rest of its batch %v", redelivered, failedOnce)
	}
	for id, c := range seen {
		if c > 2 {
			t.Errorf("%s delivered %d times", id, c)
		}
	}
}

// compareSequenceNumbers orders stream sequence numbers (decimal strings).
func compareSequenceNumbers(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}
