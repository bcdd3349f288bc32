package awslocal

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sort"
	"sync"
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
	// ParallelizationFactor is how many batches of one shard may be with
	// the handler at once (1 when zero or less): each record goes to one of
	// that many lanes by the hash of its key, so one key's records stay in
	// order, as the mapping's ParallelizationFactor does. Each lane hands
	// over its next batch as soon as its last one is done (a failed one
	// after RetryDelay, on its own), while the shard is read on, up to
	// BatchSize records waiting per lane.
	ParallelizationFactor int
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

	inflight sync.WaitGroup // the lanes' batches with the handler
	wake     chan struct{}  // a lane is free again
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
	notBefore  time.Time // after a read error
	closed     bool      // the shard has no more records
	done       bool      // closed and everything delivered
	initial    bool      // open when polling started

	mu    sync.Mutex // guards lanes: the poller appends, a lane's delivery takes from the front
	lanes []*lane
}

// lane is the records of one lane of a shard (ParallelizationFactor) not
// yet processed, in stream order.
type lane struct {
	pending   []streamstypes.Record
	attempts  int
	notBefore time.Time
	busy      bool // a batch of it is with the handler
}

// queued is how many records wait in the shard's lanes, and whether a batch
// is with the handler; s.mu must be held.
func (s *shard) queued() (records int, busy bool) {
	for _, l := range s.lanes {
		records += len(l.pending)
		busy = busy || l.busy
	}
	return records, busy
}

// laneOf is the lane of a record: the hash of its key attributes, the
// item's (stream id and event id), as Lambda spreads one shard over
// ParallelizationFactor lanes: in order per item, not per stream, so one
// stream's events go to any lane.
func laneOf(r streamstypes.Record, lanes int) int {
	if lanes <= 1 || r.Dynamodb == nil {
		return 0
	}
	names := make([]string, 0, len(r.Dynamodb.Keys))
	for k := range r.Dynamodb.Keys {
		names = append(names, k)
	}
	sort.Strings(names)
	h := fnv.New32a()
	for _, k := range names {
		h.Write([]byte(k))
		switch v := r.Dynamodb.Keys[k].(type) {
		case *streamstypes.AttributeValueMemberS:
			h.Write([]byte(v.Value))
		case *streamstypes.AttributeValueMemberN:
			h.Write([]byte(v.Value))
		case *streamstypes.AttributeValueMemberB:
			h.Write(v.Value)
		}
	}
	return int(h.Sum32() % uint32(lanes))
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
	p.wake = make(chan struct{}, 1)
	defer p.inflight.Wait() // the batches with the handler finish (ctx ends them) before Run returns
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
					shards[id] = &shard{id: id, parent: parents[i], initial: first, lanes: p.newLanes()}
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
			case <-p.wake: // a lane is free again
			case <-time.After(interval):
			}
		}
	}
	return nil
}

func (p *Poller) newLanes() []*lane {
	lanes := make([]*lane, max(p.ParallelizationFactor, 1))
	for i := range lanes {
		lanes[i] = &lane{}
	}
	return lanes
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
	started := p.startLanes(ctx, s, retryDelay, log)
	s.mu.Lock()
	queued, busy := s.queued()
	s.mu.Unlock()
	if s.closed {
		s.done = queued == 0 && !busy
		return started, nil
	}
	room := p.batchSize()*len(s.lanes) - queued
	if room <= 0 {
		return started, nil // the lanes have enough to do
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
	// One read fills the lanes, as far as one GetRecords (at most 1,000
	// records) can.
	out, err := p.Client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: s.iter, Limit: aws.Int32(int32(min(room, 1000)))})
	if err != nil {
		return started, fmt.Errorf("records of %s: %w", s.id, err)
	}
	s.iter = out.NextShardIterator
	if s.iter == nil {
		s.closed = true
	}
	if len(out.Records) == 0 {
		return started, nil
	}
	s.lastSeq = aws.ToString(out.Records[len(out.Records)-1].Dynamodb.SequenceNumber)
	s.mu.Lock()
	for _, r := range out.Records {
		if p.Filter.Match(ddbstream.FromStreamsRecord(r)) {
			l := s.lanes[laneOf(r, len(s.lanes))]
			l.pending = append(l.pending, r)
		}
	}
	s.mu.Unlock()
	p.startLanes(ctx, s, retryDelay, log)
	return true, nil
}

func (p *Poller) batchSize() int {
	if p.BatchSize <= 0 || p.BatchSize > 1000 {
		return 100
	}
	return p.BatchSize
}

// startLanes hands each free lane that has records and is not waiting for
// a retry its next batch, in a goroutine of its own, and reports whether
// any started.
func (p *Poller) startLanes(ctx context.Context, s *shard, retryDelay time.Duration, log *slog.Logger) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	started := false
	now := time.Now()
	for _, l := range s.lanes {
		if l.busy || len(l.pending) == 0 || now.Before(l.notBefore) {
			continue
		}
		l.busy, started = true, true
		batch := slices.Clone(l.pending[:min(len(l.pending), p.batchSize())])
		p.inflight.Go(func() {
			p.deliver(ctx, s, l, batch, retryDelay, log)
			select {
			case p.wake <- struct{}{}:
			default:
			}
		})
	}
	return started
}

// deliver hands batch, the lane's first records, to the handler, and
// settles the lane by the answer.
func (p *Poller) deliver(ctx context.Context, sh *shard, s *lane, batch []streamstypes.Record, retryDelay time.Duration, log *slog.Logger) {
	shardID := sh.id
	ev := ddbstream.FromStreamsRecords(p.StreamARN, batch)
	resp, err := p.Handler(ctx, ev)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	defer func() { s.busy = false }()
	from := -1 // index of the first record to deliver again
	switch {
	case err != nil:
		from = 0
		log.Warn("notifier failed on the batch", "records", len(batch), "attempt", s.attempts+1, "error", err.Error())
	case p.ReportBatchItemFailures && len(resp.BatchItemFailures) > 0:
		from = 0 // a failure naming no record of the batch fails it all
		first := len(batch)
		for _, f := range resp.BatchItemFailures {
			for i, r := range batch {
				if aws.ToString(r.Dynamodb.SequenceNumber) == f.ItemIdentifier && i < first {
					first = i
				}
			}
		}
		if first < len(batch) {
			from = first
		}
		log.Warn("notifier reported failed records", "records", len(batch)-from, "attempt", s.attempts+1, "sequenceNumber", aws.ToString(batch[from].Dynamodb.SequenceNumber))
	}
	if from < 0 {
		s.pending, s.attempts = s.pending[len(batch):], 0
		return
	}
	s.attempts++
	// What failed, and the records of the lane not yet handed over, which
	// wait behind it; a batch given up on is the failed part only, as the
	// mapping records it.
	rest := s.pending[len(batch):]
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
			StreamARN: p.StreamARN, ShardID: shardID, Records: batch[from:],
			Condition: condition, Attempts: s.attempts, FunctionError: err != nil,
		}, rest, retryDelay, log)
		return
	}
	log.Info("delivering the failed records again", "records", len(s.pending), "in", retryDelay.String())
	s.notBefore = time.Now().Add(retryDelay)
}

// giveUp hands b to OnFailure and forgets it once recorded.
func (p *Poller) giveUp(ctx context.Context, s *lane, b FailedBatch, rest []streamstypes.Record, retryDelay time.Duration, log *slog.Logger) {
	first, last := aws.ToString(b.Records[0].Dynamodb.SequenceNumber), aws.ToString(b.Records[len(b.Records)-1].Dynamodb.SequenceNumber)
	if p.OnFailure == nil {
		log.Error("records dropped: the notifier failed on them and the event source has no on-failure destination",
			"condition", b.Condition, "records", len(b.Records), "attempts", b.Attempts, "shard", b.ShardID,
			"startSequenceNumber", first, "endSequenceNumber", last)
		s.pending, s.attempts = rest, 0
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
	s.pending, s.attempts = rest, 0
}

// recordAge is how long ago the record entered the stream (0 when the
// stream does not say).
func recordAge(r streamstypes.Record) time.Duration {
	if r.Dynamodb == nil || r.Dynamodb.ApproximateCreationDateTime == nil {
		return 0
	}
	return time.Since(*r.Dynamodb.ApproximateCreationDateTime)
}
