package testenv

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// StreamReader reads a table's DynamoDB stream from DynamoDB Local with the
// DynamoDB Streams API: every shard, a parent shard before its children,
// each from its start. A test hands what it reads to a stream handler in
// the order it was read, as an event source mapping would.
type StreamReader struct {
	client *dynamodbstreams.Client
	// ARN is the stream's ARN (the events' EventSourceArn).
	ARN     string
	iters   map[string]*string // shard id → next iterator; nil once a closed shard is read
	shards  map[string]bool
	shardOf map[string]string // sequence number → shard id
}

// NewStreamReader returns a reader of table's stream; the table must have
// one (StreamSpecification).
func NewStreamReader(t testing.TB, ddb *dynamodb.Client, table string) *StreamReader {
	t.Helper()
	out, err := ddb.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("describe table %s: %v", table, err)
	}
	arn := aws.ToString(out.Table.LatestStreamArn)
	if arn == "" {
		t.Fatalf("table %s has no stream", table)
	}
	return &StreamReader{client: Streams(t), ARN: arn, iters: map[string]*string{}, shards: map[string]bool{}, shardOf: map[string]string{}}
}

// Shards is how many shards the reader has seen.
func (s *StreamReader) Shards() int { return len(s.shards) }

// Shard returns the id of the shard the record with this sequence number
// was read from ("" if it was not read): what a Lambda failure record
// (DDBStreamBatchInfo) names besides the sequence numbers.
func (s *StreamReader) Shard(sequenceNumber string) string { return s.shardOf[sequenceNumber] }

// Poll returns what every shard holds beyond what was read before.
func (s *StreamReader) Poll(t testing.TB) []streamstypes.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var shards []streamstypes.Shard
	var start *string
	for {
		desc, err := s.client.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(s.ARN), ExclusiveStartShardId: start})
		if err != nil {
			t.Fatalf("describe stream %s: %v", s.ARN, err)
		}
		shards = append(shards, desc.StreamDescription.Shards...)
		start = desc.StreamDescription.LastEvaluatedShardId
		if start == nil {
			break
		}
	}
	var recs []streamstypes.Record
	for _, sh := range parentsFirst(shards) {
		id := aws.ToString(sh.ShardId)
		s.shards[id] = true
		it, known := s.iters[id]
		if !known {
			out, err := s.client.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
				StreamArn: aws.String(s.ARN), ShardId: sh.ShardId, ShardIteratorType: streamstypes.ShardIteratorTypeTrimHorizon,
			})
			if err != nil {
				t.Fatalf("shard iterator of %s: %v", id, err)
			}
			it = out.ShardIterator
		}
		for it != nil {
			out, err := s.client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it})
			if err != nil {
				t.Fatalf("get records of shard %s: %v", id, err)
			}
			for _, r := range out.Records {
				s.shardOf[aws.ToString(r.Dynamodb.SequenceNumber)] = id
			}
			recs = append(recs, out.Records...)
			it = out.NextShardIterator
			if len(out.Records) == 0 {
				break
			}
		}
		s.iters[id] = it
	}
	return recs
}

// ReadUntil polls until enough(everything read by this call) is true, and
// returns what it read; the test fails after timeout.
func (s *StreamReader) ReadUntil(t testing.TB, timeout time.Duration, enough func([]streamstypes.Record) bool) []streamstypes.Record {
	t.Helper()
	var recs []streamstypes.Record
	deadline := time.Now().Add(timeout)
	for {
		recs = append(recs, s.Poll(t)...)
		if enough(recs) {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s: condition not met after %s (%d records read)", s.ARN, timeout, len(recs))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// parentsFirst orders shards so that each comes after its parent (when the
// parent is listed), and otherwise keeps DescribeStream's order.
func parentsFirst(shards []streamstypes.Shard) []streamstypes.Shard {
	byID := map[string]int{}
	for i, sh := range shards {
		byID[aws.ToString(sh.ShardId)] = i
	}
	depth := func(i int) int {
		d := 0
		for seen := 0; seen < len(shards); seen++ {
			p, ok := byID[aws.ToString(shards[i].ParentShardId)]
			if !ok {
				break
			}
			i, d = p, d+1
		}
		return d
	}
	out := append([]streamstypes.Shard(nil), shards...)
	depths := make(map[string]int, len(out))
	for i, sh := range shards {
		depths[aws.ToString(sh.ShardId)] = depth(i)
	}
	sort.SliceStable(out, func(a, b int) bool {
		return depths[aws.ToString(out[a].ShardId)] < depths[aws.ToString(out[b].ShardId)]
	})
	return out
}
