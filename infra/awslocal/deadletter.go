package awslocal

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/streamhook/fastpix-receiver/infra/ops"
)

// OnFailureRecord is the message Lambda sends an event source mapping's
// on-failure destination when it gives up on a DynamoDB stream batch: where
// the records are in the stream, not the records. The local stack sends the
// same, so that `fastpixctl redrive` (infra/ops) is exercised on it as on
// AWS.
type OnFailureRecord struct {
	RequestContext struct {
		RequestID              string `json:"requestId"`
		FunctionArn            string `json:"functionArn"`
		Condition              string `json:"condition"`
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	ResponseContext struct {
		StatusCode      int    `json:"statusCode"`
		ExecutedVersion string `json:"executedVersion"`
		FunctionError   string `json:"functionError,omitempty"`
	} `json:"responseContext"`
	Version            string          `json:"version"`
	Timestamp          string          `json:"timestamp"`
	DDBStreamBatchInfo StreamBatchInfo `json:"DDBStreamBatchInfo"`
}

// StreamBatchInfo locates the batch in its stream.
type StreamBatchInfo struct {
	ShardID                         string `json:"shardId"`
	StartSequenceNumber             string `json:"startSequenceNumber"`
	EndSequenceNumber               string `json:"endSequenceNumber"`
	ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
	ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
	BatchSize                       int    `json:"batchSize"`
	StreamArn                       string `json:"streamArn"`
}

// NewOnFailureRecord describes b as Lambda would, for the function
// functionARN, at now.
func NewOnFailureRecord(b FailedBatch, functionARN string, now time.Time) OnFailureRecord {
	var r OnFailureRecord
	r.RequestContext.RequestID = invocationID()
	r.RequestContext.FunctionArn = functionARN
	r.RequestContext.Condition = b.Condition
	r.RequestContext.ApproximateInvokeCount = b.Attempts
	// A handler that reports failed records answered 200; one that returned
	// an error is an "Unhandled" function error.
	r.ResponseContext.StatusCode = 200
	r.ResponseContext.ExecutedVersion = "$LATEST"
	if b.FunctionError {
		r.ResponseContext.FunctionError = "Unhandled"
	}
	r.Version = "1.0"
	r.Timestamp = now.UTC().Format("2006-01-02T15:04:05.000Z")
	r.DDBStreamBatchInfo = StreamBatchInfo{ShardID: b.ShardID, BatchSize: len(b.Records), StreamArn: b.StreamARN}
	if n := len(b.Records); n > 0 {
		first, last := b.Records[0].Dynamodb, b.Records[n-1].Dynamodb
		r.DDBStreamBatchInfo.StartSequenceNumber = aws.ToString(first.SequenceNumber)
		r.DDBStreamBatchInfo.EndSequenceNumber = aws.ToString(last.SequenceNumber)
		r.DDBStreamBatchInfo.ApproximateArrivalOfFirstRecord = arrival(first.ApproximateCreationDateTime, now)
		r.DDBStreamBatchInfo.ApproximateArrivalOfLastRecord = arrival(last.ApproximateCreationDateTime, now)
	}
	return r
}

func arrival(t *time.Time, now time.Time) string {
	if t == nil {
		t = &now
	}
	return t.UTC().Format(time.RFC3339)
}

// invocationID is a random UUID (version 4), as Lambda's request ids are.
func invocationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// DeadLetter sends the batches the poller gives up on to a goaws queue.
type DeadLetter struct {
	Queue       *ops.QueryQueue
	Name        string // the queue's logical id
	FunctionARN string
	Log         *slog.Logger
}

// Record implements Poller.OnFailure.
func (d *DeadLetter) Record(ctx context.Context, b FailedBatch) error {
	body, err := json.Marshal(NewOnFailureRecord(b, d.FunctionARN, time.Now()))
	if err != nil {
		return fmt.Errorf("awslocal: on-failure record: %w", err)
	}
	if err := d.Queue.Send(ctx, string(body)); err != nil {
		return err
	}
	// The record holds stream coordinates only, never an event's payload.
	d.Log.Error("the notifier gave up on a batch: its on-failure record is in the dead-letter queue (make ctl-local ARGS=redrive re-processes it)",
		"queue", d.Name, "condition", b.Condition, "records", len(b.Records), "attempts", b.Attempts, "message", string(body))
	return nil
}
