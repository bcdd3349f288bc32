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
	"github.com/aws/smithy-go"

	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/ddbstream"
	"github.com/streamhook/fastpix-receiver/pkg/deadletter"
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
	// Alerts: a and b live, b down from the stream batches; the fallback
	// finds streams a and b up to date (nothing again) and sends c's live.
	waitFor(t, "alerts", func() bool { return received(e.inbox, "") >= 4 })
	time.Sleep(200 * time.Millisecond) // nothing more comes
	if received(e.inbox, e.live) != 3 || received(e.inbox, e.down) != 1 {
		t.Errorf("live %d, down %d; want 3 and 1, each alert once\n%s", received(e.inbox, e.live), received(e.inbox, e.down), e.out.String())
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
	broken := *e.notifier
	broken.Publisher = failing{}
	r := &ops.Redriver{Queue: q, Streams: streams, Events: e.eventSource, Processor: &broken, Out: &e.out}
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

// scriptedFailures is the notifier, except for the streams it fails.
type scriptedFailures struct {
	inner ddbstream.Processor
	fail  map[string]error
	seen  []string
}

func (s *scriptedFailures) ApplyStream(ctx context.Context, key string, ids []string) ([]notify.EventResult, error) {
	s.seen = append(s.seen, key)
	if err := s.fail[key]; err != nil {
		return nil, err
	}
	return s.inner.ApplyStream(ctx, key, ids)
}

// Redrive goes on past a failing stream: the streams after it are brought
// up to date, the failure is reported, and the message is kept for the
// next run.
func TestRedriveGoesOnPastAFailingStream(t *testing.T) {
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
	p := &scriptedFailures{inner: e.notifier, fail: map[string]error{"stream-b": fmt.Errorf("%w: throttled", notify.ErrState)}}
	r := &ops.Redriver{Queue: q, Streams: testenv.Streams(t), Events: e.eventSource, Processor: p, Out: &e.out}
	sum, err := r.Redrive(ctx)
	if !errors.Is(err, notify.ErrState) {
		t.Fatalf("err %v, want the stream's failure", err)
	}
	if strings.Join(p.seen, ",") != "stream-a,stream-b,stream-c" || sum.Records != 2 || sum.Deleted != 0 || sum.Left != 1 {
		t.Errorf("brought up to date %v, summary %+v; want a, b, c tried, 2 done, the message left\n%s", p.seen, sum, e.out.String())
	}
	if !strings.Contains(e.out.String(), "FAILED") {
		t.Errorf("output does not report the stream:\n%s", e.out.String())
	}
	waitFor(t, "alerts of a and c", func() bool { return received(e.inbox, e.live) >= 2 })
}

// An alert SNS refused for good, kept in the dead-letter queue by the
// notifier, is sent again by redrive once the cause is fixed, and its
// message deleted.
func TestRedriveResendsAnUndeliverableAlert(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	q := newQueue(t)
	e.notifier.DeadLetters = &deadletter.Queue{Client: q, URL: q.URL}
	refused := *e.notifier
	refused.Publisher = refusing{}
	e.put("r-active", "video.live_stream.active", "stream-r", 0)
	if _, err := refused.ApplyStream(ctx, "stream-r", []string{"r-active"}); err != nil {
		t.Fatalf("a refused alert must not fail the stream: %v", err)
	}
	if received(e.inbox, "") != 0 {
		t.Fatal("the refused alert was delivered")
	}
	r := &ops.Redriver{Queue: q, Streams: testenv.Streams(t), Events: e.eventSource, Processor: e.notifier, Resender: e.notifier, Out: &e.out}
	sum, err := r.Redrive(ctx)
	if err != nil || sum.Deleted != 1 {
		t.Fatalf("redrive: %+v, %v\n%s", sum, err, e.out.String())
	}
	waitFor(t, "the live alert", func() bool { return received(e.inbox, e.live) == 1 })
	if !strings.Contains(e.out.String(), "AuthorizationError") {
		t.Errorf("output does not say why it was refused:\n%s", e.out.String())
	}
}

// refusing answers every publish as SNS answers a role that may not
// publish to the topic.
type refusing struct{}

func (refusing) Publish(context.Context, string, alerts.Message) error {
	return fmt.Errorf("%w: %w", alerts.ErrPublish, &smithy.GenericAPIError{Code: "AuthorizationError", Message: "not authorized to perform SNS:Publish"})
}
