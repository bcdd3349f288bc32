package ops_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/ddbstream"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
)

// streamRecords reads the events table's stream until it holds n records,
// and returns every record read.
func streamRecords(t *testing.T, e *env, n int) (*testenv.StreamReader, []streamstypes.Record) {
	t.Helper()
	reader := testenv.NewStreamReader(t, e.ddb, e.events)
	recs := reader.ReadUntil(t, 30*time.Second, func(recs []streamstypes.Record) bool { return len(recs) >= n })
	return reader, recs
}

// failureMessage is what Lambda sends to the on-failure destination for the
// batch of records first..last (documented shape).
func failureMessage(arn, shard string, first, last streamstypes.Record, n int) string {
	b, _ := json.Marshal(map[string]any{
		"requestContext": map[string]any{
			"requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81", "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:notifier",
			"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3,
		},
		"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
		"version":         "1.0",
		"timestamp":       time.Now().UTC().Format(time.RFC3339Nano),
		"DDBStreamBatchInfo": map[string]any{
			"shardId": shard, "startSequenceNumber": aws.ToString(first.Dynamodb.SequenceNumber),
			"endSequenceNumber":               aws.ToString(last.Dynamodb.SequenceNumber),
			"approximateArrivalOfFirstRecord": first.Dynamodb.ApproximateCreationDateTime.UTC().Format(time.RFC3339),
			"approximateArrivalOfLastRecord":  last.Dynamodb.ApproximateCreationDateTime.UTC().Format(time.RFC3339),
			"batchSize":                       n,
			"streamArn":                       arn,
		},
	})
	return string(b)
}

func newQueue(t *testing.T) *ops.QueryQueue {
	t.Helper()
	q := &ops.QueryQueue{Endpoint: testenv.SNSEndpoint(t)}
	u, err := q.CreateQueue(context.Background(), testenv.UniqueName(t, "dlq"))
	if err != nil {
		t.Fatal(err)
	}
	q.URL = u
	return q
}

func TestRedrive(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	streams := testenv.Streams(t)
	e.put("a-active", "video.live_stream.active", "stream-a", 0)
	e.put("a-idle", "video.live_stream.idle", "stream-a", 1)
	e.put("b-active", "video.live_stream.active", "stream-b", 2)
	e.put("b-down", "video.live_stream.disconnected", "stream-b", 3)
	e.put("c-active", "video.live_stream.active", "stream-c", 4)
	reader, recs := streamRecords(t, e, 5)
	arn := reader.ARN
	if len(recs) != 5 {
		t.Fatalf("%d stream records, want 5", len(recs))
	}
	seq := func(i int) string { return aws.ToString(recs[i].Dynamodb.SequenceNumber) }

	q := newQueue(t)
	// Batch 1: the first two records. Batch 2: records 3 and 4. Batch 3 points
	// to a stream that is gone, so it is read back from the events table by
	// arrival time (stream-c's event, and every other event received then).
	// Then one message that is not a failure record at all.
	bodies := []string{
		failureMessage(arn, reader.Shard(seq(0)), recs[0], recs[1], 2),
		failureMessage(arn, reader.Shard(seq(2)), recs[2], recs[3], 2),
		failureMessage(arn+"-gone", reader.Shard(seq(4)), recs[4], recs[4], 1),
		`{"hello":"world"}`,
	}
	for _, b := range bodies {
		if err := q.Send(ctx, b); err != nil {
			t.Fatal(err)
		}
	}

	// A dry run first: nothing processed, nothing deleted.
	dry := &ops.Redriver{Queue: q, Streams: streams, Events: e.eventSource, Processor: e.notifier, Out: &e.out, DryRun: true}
	if sum, err := dry.Redrive(ctx); !errors.Is(err, ops.ErrNotBatchInfo) || sum.Deleted != 0 || sum.Records != 0 || sum.Messages != 4 {
		t.Fatalf("dry run: %+v, %v\n%s", sum, err, e.out.String())
	}
	if received(e.inbox, "") != 0 {
		t.Fatal("the dry run published")
	}

	// The dry run's receives hid the messages for goaws's visibility
	// timeout: read them again through a fresh queue holding the same bodies.
	q = newQueue(t)
	for _, b := range bodies {
		if err := q.Send(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	e.out.Reset()
	r := &ops.Redriver{Queue: q, Streams: streams, Events: e.eventSource, Processor: e.notifier, Out: &e.out}
	sum, err := r.Redrive(ctx)
	if !errors.Is(err, ops.ErrNotBatchInfo) {
		t.Errorf("err = %v, want ErrNotBatchInfo for the stray message", err)
	}
	if sum.Messages != 4 || sum.Deleted != 3 || sum.Left != 1 || sum.FromTable != 1 {
		t.Errorf("summary %+v, want 4 messages, 3 deleted, 1 left, 1 from the table\n%s", sum, e.out.String())
	}
	// Batches 1 and 2 are 4 events; the table fallback finds all 5 events
	// (received in the same minute).
	if sum.Records != 4+5 {
		t.Errorf("%d events re-processed, want 9\n%s", sum.Records, e.out.String())
	}
	for stream, want := range map[string]string{"stream-a": "idle", "stream-b": "disconnected", "stream-c": "active"} {
		st, err := e.store.Get(ctx, stream)
		if err != nil || st.Status != want {
			t.Errorf("%s: %+v %v, want %s", stream, st, err, want)
		}
	}
	// Alerts: a and b active, b down from the stream batches; the fallback
	// suppresses the actives that newer events followed, sends b-down again
	// (still the latest of its stream) and c-active.
	waitFor(t, "alerts", func() bool { return received(e.inbox, "") >= 5 })
	if received(e.inbox, e.live) != 3 || received(e.inbox, e.down) != 2 {
		t.Errorf("live %d, down %d; want 3 and 2\n%s", received(e.inbox, e.live), received(e.inbox, e.down), e.out.String())
	}
	// The deleted messages are gone; the stray one is hidden, not deleted.
	if ms, err := q.Receive(ctx, 10); err != nil || len(ms) != 0 {
		t.Errorf("queue still shows %d messages (%v)", len(ms), err)
	}
}

// failing publishes nothing and fails.
type failing struct{}

func (failing) Publish(context.Context, string, alerts.Message) error {
	return fmt.Errorf("%w: SNS throttled", alerts.ErrPublish)
}

func TestRedriveKeepsFailedMessage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	streams := testenv.Streams(t)
	e.put("x-active", "video.live_stream.active", "stream-x", 0)
	reader, recs := streamRecords(t, e, 1)
	q := newQueue(t)
	if err := q.Send(ctx, failureMessage(reader.ARN, reader.Shard(aws.ToString(recs[0].Dynamodb.SequenceNumber)), recs[0], recs[0], 1)); err != nil {
		t.Fatal(err)
	}
	broken := &notify.Notifier{State: e.store, Publisher: failing{}, Routes: e.routes, Logger: e.notifier.Logger}
	r := &ops.Redriver{Queue: q, Streams: streams, Events: e.eventSource, Processor: broken, Out: &e.out}
	sum, err := r.Redrive(ctx)
	if !errors.Is(err, notify.ErrPublish) || sum.Left != 1 || sum.Deleted != 0 {
		t.Fatalf("summary %+v, err %v; want the message left with a publish error", sum, err)
	}
	if !strings.Contains(e.out.String(), "left in the queue") {
		t.Errorf("output does not say the message was left:\n%s", e.out.String())
	}
}

func TestParseFailureRecord(t *testing.T) {
	// The example of Lambda's documentation for a DynamoDB stream source.
	const doc = `{"requestContext":{"requestId":"316aa6d0-8154-xmpl-9af7-85d5f4a6bc81","functionArn":"arn:aws:lambda:us-east-2:123456789012:function:myfunction","condition":"RetryAttemptsExhausted","approximateInvokeCount":1},"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},"version":"1.0","timestamp":"2019-11-14T00:13:49.717Z","DDBStreamBatchInfo":{"shardId":"shardId-00000001573689847184-864758bb","startSequenceNumber":"800000000003126276362","endSequenceNumber":"800000000003126276362","approximateArrivalOfFirstRecord":"2019-11-14T00:13:19Z","approximateArrivalOfLastRecord":"2019-11-14T00:13:19Z","batchSize":1,"streamArn":"arn:aws:dynamodb:us-east-2:123456789012:table/mytable/stream/2019-11-14T00:04:06.388"}}`
	tests := []struct {
		body    string
		wantErr bool
	}{
		{doc, false},
		{`not json`, true},
		{`{"DDBStreamBatchInfo":{}}`, true},
		{`{"requestContext":{}}`, true},
	}
	for _, tc := range tests {
		f, err := ops.ParseFailureRecord(tc.body)
		if tc.wantErr {
			if !errors.Is(err, ops.ErrNotBatchInfo) {
				t.Errorf("%s: err %v", tc.body, err)
			}
			continue
		}
		if err != nil || f.Batch.ShardID != "shardId-00000001573689847184-864758bb" || f.Batch.BatchSize != 1 ||
			f.RequestContext.Condition != "RetryAttemptsExhausted" || f.Batch.ApproximateArrivalOfLastRecord.IsZero() {
			t.Errorf("%+v %v", f, err)
		}
	}
}

// scriptedFailures is the notifier, except for the events it fails.
type scriptedFailures struct {
	inner ddbstream.Processor
	fail  map[string]error
	seen  []string
}

func (s *scriptedFailures) Process(ctx context.Context, r eventstore.Record) (notify.Result, error) {
	s.seen = append(s.seen, r.EventID)
	if err := s.fail[r.EventID]; err != nil {
		return notify.Result{}, err
	}
	return s.inner.Process(ctx, r)
}

// Redrive goes on past a failing event: the events after it are processed,
// the failure is reported, and the message is kept only when a retry can
// help.
func TestRedriveGoesOnPastAFailingEvent(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		wantDeleted int
		wantErr     error
		wantOut     string
	}{
		{"a retry can help: the message is left", fmt.Errorf("%w: event b: throttled", notify.ErrState), 0, notify.ErrState, "FAILED"},
		{"no retry can help: skipped and reported, the message deleted", fmt.Errorf("%w: event b: ValidationException", notify.ErrUnprocessable), 1, nil, "SKIPPED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			e.put("a", "video.live_stream.active", "stream-a", 0)
			e.put("b", "video.live_stream.active", "stream-b", 1)
			e.put("c", "video.live_stream.active", "stream-c", 2)
			reader, recs := streamRecords(t, e, 3)
			q := newQueue(t)
			if err := q.Send(ctx, failureMessage(reader.ARN, reader.Shard(aws.ToString(recs[0].Dynamodb.SequenceNumber)), recs[0], recs[2], 3)); err != nil {
				t.Fatal(err)
			}
			p := &scriptedFailures{inner: e.notifier, fail: map[string]error{"b": tc.err}}
			r := &ops.Redriver{Queue: q, Streams: testenv.Streams(t), Events: e.eventSource, Processor: p, Out: &e.out}
			sum, err := r.Redrive(ctx)
			if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if strings.Join(p.seen, ",") != "a,b,c" || sum.Records != 2 || sum.Deleted != tc.wantDeleted {
				t.Errorf("processed %v, summary %+v; want a, b, c processed, 2 done, %d deleted\n%s", p.seen, sum, tc.wantDeleted, e.out.String())
			}
			if !strings.Contains(e.out.String(), tc.wantOut) {
				t.Errorf("output does not report the event:\n%s", e.out.String())
			}
			waitFor(t, "alerts of a and c", func() bool { return received(e.inbox, e.live) >= 2 })
		})
	}
}
