package localstack

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/streamhook/fastpix-receiver/pkg/ddbstream"
)

// BatchHandler is a Lambda handler of DynamoDB stream batches, such as
// ddbstream.Handler.Handle.
type BatchHandler func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// StreamsAPI is the part of the DynamoDB Streams client the poller uses.
type StreamsAPI interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// Poller is a stand-in for a DynamoDB stream event source mapping: it reads
// every shard of the stream, parents before children, drops the records the
// filter does not pass, and hands each batch to the handler. A batch that
// fails is delivered again after RetryDelay: whole when the handler returns
// an error, and from the first failed record on when it reports batch item
// failures (as the mapping does with ReportBatchItemFailures).
// When it gives up on a batch (MaximumRetryAttempts, MaximumRecordAge) it
// hands OnFailure what the mapping sends its on-failure destination.
type Poller struct {
	Client    StreamsAPI
	StreamARN string
	Handler   BatchHandler
	Filter    *Filter
	// StartingPosition is TRIM_HORIZON or LATEST, for the shards open when
	// polling starts; shards that appear later are read from their start.
	StartingPosition string
	BatchSize        int
	// ReportBatchItemFailures: honour the handler's BatchItemFailures.
	ReportBatchItemFailures bool
	// MaximumRetryAttempts: after this many retries a batch is given up on
	// (handed to OnFailure); -1 retries for ever.
	MaximumRetryAttempts int
	// MaximumRecordAge: a failed batch whose oldest record is older than
	// this (by its ApproximateCreationDateTime) is given up on instead of
	// retried; zero or less: no limit.
	MaximumRecordAge time.Duration
	// OnFailure records a batch given up on, as the deployed mapping sends
	// it to its DestinationConfig.OnFailure. When it fails, the batch is
	// kept and delivered again after RetryDelay (and given up on again if
	// it still fails): a batch leaves the poller only recorded or processed.
	// nil: the batch is dropped with an error log line, as the mapping does
	// without a destination.
	OnFailure func(ctx context.Context, b FailedBatch) error
	// Interval is the pause when no shard had records (250 ms when zero,
	// Lambda's four polls a second).
	Interval time.Duration
	// RetryDelay is the pause before a failed batch is delivered again (1 s
	// when zero).
	RetryDelay time.Duration
	Logger     *slog.Logger
}

// Conditions of a FailedBatch, as Lambda names them in the on-failure
// record's requestContext.condition.
const (
	ConditionRetryAttemptsExhausted = "RetryAttemptsExhausted"
	ConditionRecordAgeExceeded      = "RecordAgeExceeded"
)

// FailedBatch is a batch the poller gave up on.
type FailedBatch struct {
	StreamARN string
	ShardID   string
	// Records are the batch's records the handler did not process, in
	// stream order (from the first reported failure on).
	Records []streamstypes.Record
	// Condition is ConditionRetryAttemptsExhausted or
	// ConditionRecordAgeExceeded.
	Condition string
	// Attempts is how many times the batch was delivered.
	Attempts int
	// FunctionError: the last delivery returned an error (rather than
	// reporting failed records).
	FunctionError bool
}

type shard struct {
	id, parent string
	iter       *string
	lastSeq    string
	pending    []streamstypes.Record
	attempts   int
	notBefore  time.Time
	closed     bool // the shard has no more records
	done       bool // closed and everything delivered
	initial    bool // open when polling started
}

// Run polls until ctx ends.
func (p *Poller) Run(ctx context.Context) error {
	log := p.Logger
	if log == nil {
		log = slog.Default()
	}
	interval, retryDelay := p.Interval, p.RetryDelay
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	if retryDelay <= 0 {
		retryDelay = time.Second
	}
	shards := map[string]*shard{}
	var order []string
	var lastDescribe time.Time
	first := true
	for ctx.Err() == nil {
		if time.Since(lastDescribe) > time.Second {
			ids, parents, err := p.describe(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				log.Warn("describe stream", "stream", p.StreamARN, "error", err.Error())
			}
			for i, id := range ids {
				if _, ok := shards[id]; !ok {
					shards[id] = &shard{id: id, parent: parents[i], initial: first}
					order = append(order, id)
				}
			}
			if err == nil {
				first = false
			}
			lastDescribe = time.Now()
		}
		busy := false
		for _, id := range order {
			s := shards[id]
			if s.done {
				continue
			}
			if parent, ok := shards[s.parent]; ok && !parent.done {
				continue // a child waits until its parent is read to the end
			}
			got, err := p.step(ctx, s, retryDelay, log)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				log.Warn("read stream shard; retrying", "shard", s.id, "error", err.Error())
				s.iter = nil // a fresh iterator from the last record seen
				s.notBefore = time.Now().Add(retryDelay)
			}
			busy = busy || got
		}
		if !busy {
			select {
			case <-ctx.Done():
			case <-time.After(interval):
			}
		}
	}
	return nil
}

func (p *Poller) describe(ctx context.Context) (ids, parents []string, err error) {
	in := &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(p.StreamARN)}
	for {
		out, err := p.Client.DescribeStream(ctx, in)
		if err != nil {
			return ids, parents, fmt.Errorf("describe stream %s: %w", p.StreamARN, err)
		}
		for _, sh := range out.StreamDescription.Shards {
			ids = append(ids, aws.ToString(sh.ShardId))
			parents = append(parents, aws.ToString(sh.ParentShardId))
		}
		if out.StreamDescription.LastEvaluatedShardId == nil {
			return ids, parents, nil
		}
		in.ExclusiveStartShardId = out.StreamDescription.LastEvaluatedShardId
	}
}

// step does one unit of work on a shard: deliver what is pending, or read
// the next records. It reports whether there was anything to do.
func (p *Poller) step(ctx context.Context, s *shard, retryDelay time.Duration, log *slog.Logger) (bool, error) {
	if time.Now().Before(s.notBefore) {
		return false, nil
	}
	if len(s.pending) > 0 {
		p.deliver(ctx, s, retryDelay, log)
		return true, nil
	}
	if s.closed {
		s.done = true
		return false, nil
	}
	if s.iter == nil {
		in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(p.StreamARN), ShardId: aws.String(s.id)}
		switch {
		case s.lastSeq != "":
			in.ShardIteratorType = streamstypes.ShardIteratorTypeAfterSequenceNumber
			in.SequenceNumber = aws.String(s.lastSeq)
		case s.initial && p.StartingPosition == string(streamstypes.ShardIteratorTypeLatest):
			in.ShardIteratorType = streamstypes.ShardIteratorTypeLatest
		default:
			in.ShardIteratorType = streamstypes.ShardIteratorTypeTrimHorizon
		}
		out, err := p.Client.GetShardIterator(ctx, in)
		if err != nil {
			return false, fmt.Errorf("shard iterator of %s: %w", s.id, err)
		}
		s.iter = out.ShardIterator
	}
	batch := p.BatchSize
	if batch <= 0 || batch > 1000 {
		batch = 100
	}
	out, err := p.Client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: s.iter, Limit: aws.Int32(int32(batch))})
	if err != nil {
		return false, fmt.Errorf("records of %s: %w", s.id, err)
	}
	s.iter = out.NextShardIterator
	if s.iter == nil {
		s.closed = true
	}
	if len(out.Records) == 0 {
		return false, nil
	}
	s.lastSeq = aws.ToString(out.Records[len(out.Records)-1].Dynamodb.SequenceNumber)
	for _, r := range out.Records {
		if p.Filter.Match(ddbstream.FromStreamsRecord(r)) {
			s.pending = append(s.pending, r)
		}
	}
	if len(s.pending) > 0 {
		p.deliver(ctx, s, retryDelay, log)
	}
	return true, nil
}

func (p *Poller) deliver(ctx context.Context, s *shard, retryDelay time.Duration, log *slog.Logger) {
	ev := ddbstream.FromStreamsRecords(p.StreamARN, s.pending)
	resp, err := p.Handler(ctx, ev)
	from := -1 // index of the first record to deliver again
	switch {
	case err != nil:
		from = 0
		log.Warn("notifier failed on the batch", "records", len(s.pending), "attempt", s.attempts+1, "error", err.Error())
	case p.ReportBatchItemFailures && len(resp.BatchItemFailures) > 0:
		from = 0 // a failure naming no record of the batch fails it all
		first := len(s.pending)
		for _, f := range resp.BatchItemFailures {
			for i, r := range s.pending {
				if aws.ToString(r.Dynamodb.SequenceNumber) == f.ItemIdentifier && i < first {
					first = i
				}
			}
		}
		if first < len(s.pending) {
			from = first
		}
		log.Warn("notifier reported failed records", "records", len(s.pending)-from, "attempt", s.attempts+1, "sequenceNumber", aws.ToString(s.pending[from].Dynamodb.SequenceNumber))
	}
	if from < 0 {
		s.pending, s.attempts = nil, 0
		return
	}
	s.attempts++
	s.pending = s.pending[from:]
	condition := ""
	switch {
	case p.MaximumRetryAttempts >= 0 && s.attempts > p.MaximumRetryAttempts:
		condition = ConditionRetryAttemptsExhausted
	case p.MaximumRecordAge > 0 && recordAge(s.pending[0]) > p.MaximumRecordAge:
		condition = ConditionRecordAgeExceeded
	}
	if condition != "" {
		p.giveUp(ctx, s, FailedBatch{
			StreamARN: p.StreamARN, ShardID: s.id, Records: s.pending,
			Condition: condition, Attempts: s.attempts, FunctionError: err != nil,
		}, retryDelay, log)
		return
	}
	log.Info("delivering the failed records again", "records", len(s.pending), "in", retryDelay.String())
	s.notBefore = time.Now().Add(retryDelay)
}

// giveUp hands b to OnFailure and forgets it once recorded.
func (p *Poller) giveUp(ctx context.Context, s *shard, b FailedBatch, retryDelay time.Duration, log *slog.Logger) {
	first, last := aws.ToString(b.Records[0].Dynamodb.SequenceNumber), aws.ToString(b.Records[len(b.Records)-1].Dynamodb.SequenceNumber)
	if p.OnFailure == nil {
		log.Error("records dropped: the notifier failed on them and the event source has no on-failure destination",
			"condition", b.Condition, "records", len(b.Records), "attempts", b.Attempts, "shard", b.ShardID,
			"startSequenceNumber", first, "endSequenceNumber", last)
		s.pending, s.attempts = nil, 0
		return
	}
	if err := p.OnFailure(ctx, b); err != nil {
		if ctx.Err() != nil {
			return
		}
		log.Error("a batch given up on could not be recorded at the on-failure destination; it is kept and delivered again",
			"condition", b.Condition, "records", len(b.Records), "shard", b.ShardID,
			"startSequenceNumber", first, "endSequenceNumber", last, "error", err.Error())
		s.notBefore = time.Now().Add(retryDelay)
		return
	}
	s.pending, s.attempts = nil, 0
}

// recordAge is how long ago the record entered the stream (0 when the
// stream does not say).
func recordAge(r streamstypes.Record) time.Duration {
	if r.Dynamodb == nil || r.Dynamodb.ApproximateCreationDateTime == nil {
		return 0
	}
	return time.Since(*r.Dynamodb.ApproximateCreationDateTime)
}
