package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/streamhook/fastpix-receiver/pkg/ddbstream"
	"github.com/streamhook/fastpix-receiver/pkg/deadletter"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
)

// Errors of redrive, per message.
var (
	// ErrNotBatchInfo: the message is not a Lambda on-failure record of a
	// DynamoDB stream batch. It is left in the queue.
	ErrNotBatchInfo = errors.New("ops: message has no DDBStreamBatchInfo")
	// ErrIncomplete: the stream ended before the batch's last record.
	ErrIncomplete = errors.New("ops: batch not found whole in the stream")
)

// FailureRecord is what Lambda sends to an event source mapping's
// on-failure destination when it gives up on a DynamoDB stream batch: not
// the records, only where they are.
type FailureRecord struct {
	RequestContext struct {
		Condition   string `json:"condition"`
		FunctionArn string `json:"functionArn"`
	} `json:"requestContext"`
	Timestamp string     `json:"timestamp"`
	Batch     *BatchInfo `json:"DDBStreamBatchInfo"`
}

// BatchInfo locates a failed batch in its stream.
type BatchInfo struct {
	ShardID                         string    `json:"shardId"`
	StartSequenceNumber             string    `json:"startSequenceNumber"`
	EndSequenceNumber               string    `json:"endSequenceNumber"`
	ApproximateArrivalOfFirstRecord time.Time `json:"approximateArrivalOfFirstRecord"`
	ApproximateArrivalOfLastRecord  time.Time `json:"approximateArrivalOfLastRecord"`
	BatchSize                       int       `json:"batchSize"`
	StreamArn                       string    `json:"streamArn"`
}

// ParseFailureRecord reads a dead-letter message.
func ParseFailureRecord(body string) (FailureRecord, error) {
	var f FailureRecord
	if err := json.Unmarshal([]byte(body), &f); err != nil {
		return f, fmt.Errorf("%w: not JSON: %w", ErrNotBatchInfo, err)
	}
	if f.Batch == nil || f.Batch.StreamArn == "" || f.Batch.ShardID == "" || f.Batch.StartSequenceNumber == "" {
		return f, ErrNotBatchInfo
	}
	return f, nil
}

// StreamsAPI is the part of the DynamoDB Streams client redrive reads with.
type StreamsAPI interface {
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// Redriver re-processes the batches the notifier's dead-letter queue
// points to.
type Redriver struct {
	Queue   Queue
	Streams StreamsAPI
	// Events is the fallback when the stream no longer has the records.
	Events    *eventstore.RangeReader
	Processor ddbstream.Processor
	// Resender sends again an alert SNS had refused for good
	// (pkg/deadletter), once its cause is fixed; notify.Notifier is one.
	Resender Resender
	Out      io.Writer
	// DryRun reads and prints the batches; it processes and deletes
	// nothing.
	DryRun bool
	// Margin widens the fallback's receivedAt window (1 minute when 0).
	Margin time.Duration
	// EmptyPages is how many empty GetRecords answers in a row end the read
	// of a shard that is still open (20 when 0): DynamoDB Streams may answer
	// empty pages before the records.
	EmptyPages int
}

// Resender sends again what the notifier kept aside.
type Resender interface {
	Resend(ctx context.Context, m deadletter.Message) error
}

// RedriveSummary counts a run.
type RedriveSummary struct {
	Messages, Deleted, Left int
	Records                 int // stored events re-processed
	FromTable               int // messages whose batch was read from the events table
	// Failed counts events that failed for a reason a retry can cure (their
	// message is left for the next run); Skipped those no retry can process
	// (notify.ErrUnprocessable: reported, and their message deleted).
	Failed, Skipped int
}

// Redrive reads the queue until it has nothing visible, and for each
// message re-reads its batch and processes every stored event of it in
// order. An event that fails does not stop the batch: the events after it
// are processed all the same (the state only moves forward, so the failed
// one, retried later, is judged against them), and each failure is printed.
// The message is deleted when no event failed for a reason a retry can
// cure; an event no retry can process (notify.ErrUnprocessable) is reported
// and skipped. A message with a failed event is left: it comes back after
// the queue's visibility timeout, and Redrive reports it (the error of the
// last failure is returned).
//
// The batch is re-read from the stream (GetShardIterator AT_SEQUENCE_NUMBER
// the first record, GetRecords up to the last). When the stream no longer
// has it (records are kept 24 hours; or the stream was replaced), the
// batch is rebuilt from the events table: every event received in the
// batch's arrival window (widened by Margin). That may take in events of
// other shards of the same minutes: they are processed too, which is
// harmless for the state (it only moves forward) and may send their alerts
// a second time if they are still the latest of their stream.
func (r *Redriver) Redrive(ctx context.Context) (RedriveSummary, error) {
	var sum RedriveSummary
	var lastErr error
	seen := map[string]bool{}
	for {
		ms, err := r.Queue.Receive(ctx, 10)
		if err != nil {
			return sum, err
		}
		fresh := 0
		for _, m := range ms {
			if seen[m.ID] { // came back after its visibility timeout
				continue
			}
			seen[m.ID] = true
			fresh++
			sum.Messages++
			if err := r.one(ctx, m, &sum); err != nil {
				sum.Left++
				lastErr = err
				fmt.Fprintf(r.Out, "message %s left in the queue: %v\n", m.ID, err)
			}
		}
		if fresh == 0 {
			break
		}
	}
	fmt.Fprintf(r.Out, "%d messages: %d deleted, %d left; %d events re-processed (%d batches from the events table), %d failed, %d skipped as unprocessable\n",
		sum.Messages, sum.Deleted, sum.Left, sum.Records, sum.FromTable, sum.Failed, sum.Skipped)
	if lastErr != nil {
		return sum, fmt.Errorf("ops: %d of %d messages left in the queue; last: %w", sum.Left, sum.Messages, lastErr)
	}
	return sum, nil
}

func (r *Redriver) one(ctx context.Context, m Message, sum *RedriveSummary) error {
	if d, ok := deadletter.Decode(m.Body); ok {
		fmt.Fprintf(r.Out, "message %s: an alert of stream %s SNS refused (%s)\n", m.ID, d.StreamID, d.Reason)
		if r.DryRun || r.Resender == nil {
			return nil
		}
		if err := r.Resender.Resend(ctx, d); err != nil {
			sum.Failed++
			fmt.Fprintf(r.Out, "  FAILED again: %v\n", err)
			return err
		}
		sum.Records++
		fmt.Fprintf(r.Out, "  sent\n")
		if err := r.Queue.Delete(ctx, m); err != nil {
			return err
		}
		sum.Deleted++
		return nil
	}
	f, err := ParseFailureRecord(m.Body)
	if err != nil {
		return err
	}
	b := f.Batch
	fmt.Fprintf(r.Out, "message %s: %s batch of %d in %s, shard %s, %s..%s\n",
		m.ID, f.RequestContext.Condition, b.BatchSize, b.StreamArn, b.ShardID, b.StartSequenceNumber, b.EndSequenceNumber)
	recs, err := r.fromStream(ctx, *b)
	if gone(err) {
		fmt.Fprintf(r.Out, "  the stream no longer has the batch (%v): reading events received %s..%s from the events table\n",
			err, b.ApproximateArrivalOfFirstRecord.Format(time.RFC3339), b.ApproximateArrivalOfLastRecord.Format(time.RFC3339))
		recs, err = r.fromTable(ctx, *b)
		sum.FromTable++
	}
	if err != nil {
		return err
	}
	// The batch's events, by stream: each stream is brought up to date
	// once, as the notifier would have.
	var keys []string
	ids := map[string][]string{}
	for _, d := range recs {
		if _, seen := ids[d.key]; !seen {
			keys = append(keys, d.key)
		}
		ids[d.key] = append(ids[d.key], d.eventID)
	}
	if r.DryRun {
		for _, k := range keys {
			fmt.Fprintf(r.Out, "  stream %s (%d events) would be brought up to date\n", k, len(ids[k]))
		}
		return nil
	}
	var failed error
	nFailed := 0
	for _, k := range keys {
		results, err := r.Processor.ApplyStream(ctx, k, ids[k])
		if err != nil {
			sum.Failed += len(ids[k])
			nFailed += len(ids[k])
			failed = fmt.Errorf("stream %s: %w", k, err)
			fmt.Fprintf(r.Out, "  stream %s  FAILED: %v\n", k, err)
			continue
		}
		sum.Records += len(ids[k])
		for _, res := range results {
			fmt.Fprintf(r.Out, "  %s  %-50s %-36s %s %s\n", res.OccurredAt, res.Type, res.EventID, res.Outcome, strings.Join(res.Topics, ","))
		}
	}

	if failed != nil {
		return fmt.Errorf("%d of %d events failed; last: %w", nFailed, len(recs), failed)
	}
	if err := r.Queue.Delete(ctx, m); err != nil {
		return err
	}
	sum.Deleted++
	return nil
}

// gone: the records are not in the stream any more.
func gone(err error) bool {
	var trimmed *streamstypes.TrimmedDataAccessException
	var notFound *streamstypes.ResourceNotFoundException
	return errors.As(err, &trimmed) || errors.As(err, &notFound)
}

// seqAfter compares sequence numbers: decimal strings of any length.
func seqAfter(a, b string) bool {
	if len(a) != len(b) {
		return len(a) > len(b)
	}
	return a > b
}

// doorbell is what a stream record says: which event of which log.
type doorbell struct{ key, eventID string }

func (r *Redriver) fromStream(ctx context.Context, b BatchInfo) ([]doorbell, error) {
	it, err := r.Streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
		StreamArn: aws.String(b.StreamArn), ShardId: aws.String(b.ShardID),
		ShardIteratorType: streamstypes.ShardIteratorTypeAtSequenceNumber, SequenceNumber: aws.String(b.StartSequenceNumber),
	})
	if err != nil {
		return nil, fmt.Errorf("ops: shard iterator at %s: %w", b.StartSequenceNumber, err)
	}
	end := b.EndSequenceNumber
	if end == "" {
		end = b.StartSequenceNumber
	}
	maxEmpty := r.EmptyPages
	if maxEmpty <= 0 {
		maxEmpty = 20
	}
	var recs []doorbell
	iter, empty := it.ShardIterator, 0
	for iter != nil {
		out, err := r.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(1000)})
		if err != nil {
			return nil, fmt.Errorf("ops: read shard %s: %w", b.ShardID, err)
		}
		if len(out.Records) == 0 {
			if empty++; empty >= maxEmpty {
				break
			}
		} else {
			empty = 0
		}
		for _, sr := range out.Records {
			seq := ""
			if sr.Dynamodb != nil {
				seq = aws.ToString(sr.Dynamodb.SequenceNumber)
			}
			if seqAfter(seq, end) {
				return recs, nil
			}
			if sr.EventName == streamstypes.OperationTypeInsert {
				key, id, err := ddbstream.Keys(ddbstream.FromStreamsRecord(sr))
				if err != nil {
					fmt.Fprintf(r.Out, "  record %s skipped: %v\n", seq, err)
				} else {
					recs = append(recs, doorbell{key, id})
				}
			}
			if seq == end {
				return recs, nil
			}
		}
		iter = out.NextShardIterator
	}
	if iter == nil {
		// The shard is closed and we read it to its end without reaching
		// the batch's last record: what we have is all there is.
		return recs, nil
	}
	return nil, fmt.Errorf("%w: no record up to %s after %d empty reads", ErrIncomplete, end, maxEmpty)
}

func (r *Redriver) fromTable(ctx context.Context, b BatchInfo) ([]doorbell, error) {
	if b.ApproximateArrivalOfFirstRecord.IsZero() || b.ApproximateArrivalOfLastRecord.IsZero() {
		return nil, fmt.Errorf("%w: no arrival times to search the events table by", ErrNotBatchInfo)
	}
	margin := r.Margin
	if margin <= 0 {
		margin = time.Minute
	}
	recs, more, err := r.Events.Events(ctx, eventstore.RangeQuery{
		ByReceivedAt: true,
		From:         b.ApproximateArrivalOfFirstRecord.Add(-margin),
		To:           b.ApproximateArrivalOfLastRecord.Add(margin),
		Limit:        10 * eventstore.DefaultRangeLimit,
	})
	if err != nil {
		return nil, err
	}
	if more {
		return nil, fmt.Errorf("ops: more than %d events in the batch's window; replay the window instead", 10*eventstore.DefaultRangeLimit)
	}
	out := make([]doorbell, len(recs))
	for i, rec := range recs {
		out[i] = doorbell{rec.LogKey(), rec.EventID}
	}
	return out, nil
}
