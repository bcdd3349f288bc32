// Package ddbstream adapts the events table's DynamoDB stream, as Lambda
// delivers it, to the notifier: it is the only layer of the notifier that
// knows Lambda's event types.
//
// A stream record is a doorbell: it says which stream has a new event in
// its log (the record's keys), nothing more. The notifier brings each
// stream named in a batch up to date with its log once (pkg/notify), so
// the order in which records arrive, and which of the event source's
// parallel lanes carries them, decides nothing.
package ddbstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
)

// ErrBadRecord: a stream record that names no stored event. It is logged
// and skipped: retrying it would fail the same way forever.
var ErrBadRecord = errors.New("ddbstream: unreadable stream record")

// Processor brings one stream up to date with its log; notify.Notifier is
// one.
type Processor interface {
	ApplyStream(ctx context.Context, key string, eventIDs []string) ([]notify.EventResult, error)
}

var _ Processor = (*notify.Notifier)(nil)

// DefaultMaxConcurrency is how many streams of a batch a Handler brings
// up to date at once when MaxConcurrency is zero. The work is waiting (a
// read, a write, SNS publishes of tens of milliseconds), not computing, so
// it is well above the CPU count.
const DefaultMaxConcurrency = 16

// Handler is the notifier's Lambda handler. The event source mapping must
// have FunctionResponseTypes [ReportBatchItemFailures].
type Handler struct {
	Processor Processor
	// Logger gets a line per unreadable record, per failed stream and one
	// summary per batch (slog.Default() when nil).
	Logger *slog.Logger
	// Observer, when set, is told what became of the records that reached
	// no stream and of each batch.
	Observer Observer
	// MaxConcurrency bounds how many streams are brought up to date at once
	// (DefaultMaxConcurrency when zero or less). Processor must be safe for
	// concurrent use.
	MaxConcurrency int
}

// Observer sees the stream adapter's outcomes, for metrics. What became
// of each event is the Processor's to say (notify.Observer).
type Observer interface {
	// Skipped: a record that names no event to apply: not an INSERT
	// (notify.Ignored) or unreadable (notify.Unreadable).
	Skipped(o notify.Outcome)
	// StreamFailed: a stream was not brought up to date; its records are
	// reported for the retry. err says what failed.
	StreamFailed(err error)
	// Batch: the end of a batch of records, of which retried were
	// reported failed.
	Batch(records, retried int)
}

// Keys reads the stream key and the event id out of a stream record's
// keys (any view type has them).
func Keys(rec events.DynamoDBEventRecord) (key, eventID string, err error) {
	k, ok1 := rec.Change.Keys[eventstore.AttrStreamID]
	id, ok2 := rec.Change.Keys[eventstore.KeyEventID]
	if !ok1 || !ok2 || k.DataType() != events.DataTypeString || id.DataType() != events.DataTypeString || k.String() == "" || id.String() == "" {
		return "", "", fmt.Errorf("%w: %s: keys are not (%s, %s)", ErrBadRecord, rec.Change.SequenceNumber, eventstore.AttrStreamID, eventstore.KeyEventID)
	}
	return k.String(), id.String(), nil
}

// Handle processes a batch. Only INSERT records are events (a duplicate
// delivery writes nothing, and TTL expiries are REMOVEs).
//
// Each stream named in the batch is brought up to date once, streams
// concurrently. A stream that fails (a read, a write or a send that a
// retry can cure) is reported from its first record in the batch, with
// every later record, as Lambda's batch contract asks: Lambda retries from
// the lowest reported sequence number. Retrying a stream that is already up
// to date costs a read and changes nothing, so the other streams' records
// in the retried part are harmless.
func (h *Handler) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	log := h.Logger
	if log == nil {
		log = slog.Default()
	}
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	counts := map[notify.Outcome]int{}
	keys := map[int]string{}
	ids := map[int]string{}
	var order []int
	for i, rec := range ev.Records {
		if rec.EventName != string(streamstypes.OperationTypeInsert) {
			counts[notify.Ignored]++
			h.skipped(notify.Ignored)
			continue
		}
		key, id, err := Keys(rec)
		if err != nil {
			counts[notify.Unreadable]++
			h.skipped(notify.Unreadable)
			log.ErrorContext(ctx, "stream record skipped", "sequenceNumber", rec.Change.SequenceNumber, "error", err.Error())
			continue
		}
		keys[i], ids[i] = key, id
		order = append(order, i)
	}
	groups := groupByKey(keys, order)
	failed := make(map[*group]error, len(groups))
	results := make(map[*group][]notify.EventResult, len(groups))
	var mu sync.Mutex
	runGroups(groups, h.concurrency(), func(g *group) {
		evIDs := make([]string, len(g.indexes))
		for j, i := range g.indexes {
			evIDs[j] = ids[i]
		}
		rs, err := h.Processor.ApplyStream(ctx, g.key, evIDs)
		mu.Lock()
		results[g], failed[g] = rs, err
		mu.Unlock()
	})
	failedAt := -1
	for _, g := range groups {
		if err := failed[g]; err != nil {
			if failedAt < 0 || g.indexes[0] < failedAt {
				failedAt = g.indexes[0]
			}
			if h.Observer != nil {
				h.Observer.StreamFailed(err)
			}
			log.ErrorContext(ctx, "stream not brought up to date; its records will be retried",
				"streamId", g.key, "records", len(g.indexes), "error", err.Error())
			continue
		}
		for _, r := range results[g] {
			counts[r.Outcome]++
		}
	}
	if failedAt >= 0 {
		for _, later := range ev.Records[failedAt:] {
			resp.BatchItemFailures = append(resp.BatchItemFailures,
				events.DynamoDBBatchItemFailure{ItemIdentifier: later.Change.SequenceNumber})
		}
		counts[notify.Failed] = len(ev.Records) - failedAt
	}
	h.summary(ctx, log, len(ev.Records), counts)
	if h.Observer != nil {
		h.Observer.Batch(len(ev.Records), len(resp.BatchItemFailures))
	}
	return resp, nil
}

func (h *Handler) concurrency() int {
	if h.MaxConcurrency > 0 {
		return h.MaxConcurrency
	}
	return DefaultMaxConcurrency
}

func (h *Handler) skipped(o notify.Outcome) {
	if h.Observer != nil {
		h.Observer.Skipped(o)
	}
}

func (h *Handler) summary(ctx context.Context, log *slog.Logger, n int, counts map[notify.Outcome]int) {
	attrs := []slog.Attr{slog.Int("records", n)}
	for _, o := range notify.Outcomes() {
		attrs = append(attrs, slog.Int(string(o), counts[o]))
	}
	log.LogAttrs(ctx, slog.LevelInfo, "batch processed", attrs...)
}

// FromStreamsRecord converts a record as the DynamoDB Streams GetRecords
// API returns it into the record Lambda delivers, so the local stack and
// the tests drive Handle with what DynamoDB Local really wrote.
// EventSourceArn is not part of a GetRecords record: set it when needed
// (FromStreamsRecords does).
func FromStreamsRecord(r streamstypes.Record) events.DynamoDBEventRecord {
	out := events.DynamoDBEventRecord{
		AWSRegion:    deref(r.AwsRegion),
		EventID:      deref(r.EventID),
		EventName:    string(r.EventName),
		EventSource:  deref(r.EventSource),
		EventVersion: deref(r.EventVersion),
	}
	if out.EventSource == "" {
		out.EventSource = "aws:dynamodb"
	}
	if r.UserIdentity != nil {
		out.UserIdentity = &events.DynamoDBUserIdentity{Type: deref(r.UserIdentity.Type), PrincipalID: deref(r.UserIdentity.PrincipalId)}
	}
	if d := r.Dynamodb; d != nil {
		out.Change = events.DynamoDBStreamRecord{
			Keys:           imageOf(d.Keys),
			NewImage:       imageOf(d.NewImage),
			OldImage:       imageOf(d.OldImage),
			SequenceNumber: deref(d.SequenceNumber),
			StreamViewType: string(d.StreamViewType),
		}
		if d.ApproximateCreationDateTime != nil {
			out.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
		}
		if d.SizeBytes != nil {
			out.Change.SizeBytes = *d.SizeBytes
		}
	}
	return out
}

// FromStreamsRecords builds the event Lambda would deliver for records read
// from the stream streamARN.
func FromStreamsRecords(streamARN string, rs []streamstypes.Record) events.DynamoDBEvent {
	ev := events.DynamoDBEvent{Records: make([]events.DynamoDBEventRecord, 0, len(rs))}
	for _, r := range rs {
		rec := FromStreamsRecord(r)
		rec.EventSourceArn = streamARN
		if rec.AWSRegion == "" && strings.HasPrefix(streamARN, "arn:") {
			if parts := strings.SplitN(streamARN, ":", 5); len(parts) == 5 {
				rec.AWSRegion = parts[3]
			}
		}
		ev.Records = append(ev.Records, rec)
	}
	return ev
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func imageOf(m map[string]streamstypes.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if m == nil {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		out[k] = streamAttr(v)
	}
	return out
}

func streamAttr(v streamstypes.AttributeValue) events.DynamoDBAttributeValue {
	switch v := v.(type) {
	case *streamstypes.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value)
	case *streamstypes.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value)
	case *streamstypes.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value)
	case *streamstypes.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value)
	case *streamstypes.AttributeValueMemberNULL:
		return events.NewNullAttribute()
	case *streamstypes.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value)
	case *streamstypes.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value)
	case *streamstypes.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value)
	case *streamstypes.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = streamAttr(e)
		}
		return events.NewListAttribute(l)
	case *streamstypes.AttributeValueMemberM:
		return events.NewMapAttribute(imageOf(v.Value))
	}
	// An unknown member (a type added to DynamoDB later) becomes NULL; the
	// reader then sees the attribute as absent rather than failing.
	return events.NewNullAttribute()
}
