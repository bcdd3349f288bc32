// Package ddbstream adapts the events table's DynamoDB stream, as Lambda
// delivers it, to the notifier: it is the only layer of the notifier that
// knows Lambda's event types.
//
// The events table is the outbox: an alert leaves only after its event is
// durable, and is not lost between the write and the publish, because the
// stream record stays until the handler reports it done.
package ddbstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/metrics"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
)

// ErrBadRecord: a stream record that cannot be read as a stored event. It is
// logged and skipped: retrying it would fail the same way forever.
var ErrBadRecord = errors.New("ddbstream: unreadable stream record")

// Processor handles one stored event; notify.Notifier is one.
type Processor interface {
	Process(ctx context.Context, r eventstore.Record) (notify.Result, error)
}

var _ Processor = (*notify.Notifier)(nil)

// DefaultMaxConcurrency is how many records of different streams a
// Handler processes at once when MaxConcurrency is zero. The work is
// waiting (a state update, an SNS publish of tens of milliseconds), not
// computing, so it is well above the CPU count.
const DefaultMaxConcurrency = 16

// Handler is the notifier's Lambda handler. The event source mapping must
// have FunctionResponseTypes [ReportBatchItemFailures].
type Handler struct {
	Processor Processor
	// Logger gets a line per unreadable or failed record and one summary per
	// batch (slog.Default() when nil).
	Logger *slog.Logger
	// Observer, when set, is told what became of each record and of each
	// batch: metrics.Notifier turns that into CloudWatch metrics (EMF lines,
	// no API call).
	Observer Observer
	// MaxConcurrency bounds how many records are processed at once
	// (DefaultMaxConcurrency when zero or less). 1 processes the batch one
	// record after another in batch order. Processor must be safe for
	// concurrent use.
	MaxConcurrency int
}

// Observer sees the notifier's outcomes, for metrics.
type Observer interface {
	ObserveRecord(r metrics.NotifyRecord)
	ObserveBatch(records, retried int)
}

var _ Observer = metrics.Notifier{}

// Handle processes a batch. Only INSERT records are events (a duplicate
// delivery writes nothing, and TTL expiries are REMOVEs).
//
// Records of different streams are independent (each stream's state is its
// own item, moved only forward by a conditional update), so they are
// processed concurrently, at most MaxConcurrency at once, earliest record
// first. The records of one stream (records with no stream id each on
// their own) are processed one after another in batch order, and after one
// of them fails the stream's later records are not processed: they are
// retried with it, so a stream's state never moves past an event whose
// alert has not left.
//
// A record that can never be processed (unreadable, or refused by the state
// store as invalid: notify.ErrUnprocessable) is logged, counted and
// skipped: it must not hold back, or send to the dead-letter queue, the
// records after it.
//
// The batch contract is Lambda's: the first record (in batch order) that
// fails for a reason a retry can cure is reported with every later record,
// whatever became of them, and Lambda retries from the lowest reported
// sequence number. Records before it are all done and are not reported.
// Records after it that succeeded in another stream are processed again on
// the retry: their state update is re-applied (the same event passes its
// own condition) and their alert may be published a second time, which the
// at-least-once promise allows. No record after a known failure is started.
func (h *Handler) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	log := h.Logger
	if log == nil {
		log = slog.Default()
	}
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	counts := map[notify.Outcome]int{}
	outs := make([]recordOutcome, len(ev.Records))
	var todo []batchItem
	for i, rec := range ev.Records {
		if rec.EventName != string(streamstypes.OperationTypeInsert) {
			outs[i].kind = outcomeIgnored
			continue
		}
		stored, err := RecordOf(rec)
		if err != nil {
			outs[i] = recordOutcome{kind: outcomeUnreadable, err: err}
			continue
		}
		outs[i].stored = stored
		todo = append(todo, batchItem{index: i, key: stored.StreamID})
	}
	failedAt := runOrdered(todo, h.concurrency(), func(i int) bool {
		res, err := h.Processor.Process(ctx, outs[i].stored)
		outs[i].res, outs[i].err, outs[i].kind = res, err, outcomeProcessed
		return err == nil || errors.Is(err, notify.ErrUnprocessable)
	})

	for i, rec := range ev.Records {
		o := outs[i]
		if i == failedAt {
			for _, later := range ev.Records[i:] {
				resp.BatchItemFailures = append(resp.BatchItemFailures,
					events.DynamoDBBatchItemFailure{ItemIdentifier: later.Change.SequenceNumber})
			}
			counts[notify.Failed] = len(ev.Records) - i
		}
		switch {
		case o.kind == outcomeIgnored:
			counts[notify.Ignored]++
			h.observe(metrics.NotifyRecord{Outcome: notify.Ignored})
		case o.kind == outcomeUnreadable:
			counts[notify.Unreadable]++
			h.observe(metrics.NotifyRecord{Outcome: notify.Unreadable})
			log.ErrorContext(ctx, "stream record skipped", "sequenceNumber", rec.Change.SequenceNumber, "error", o.err.Error())
		case o.kind == outcomeNotRun:
			// After the first failure: reported above, retried by Lambda.
		case errors.Is(o.err, notify.ErrUnprocessable):
			counts[notify.Unprocessable]++
			o.res.Outcome = notify.Unprocessable
			h.observe(observation(o.stored, o.res, nil))
			log.ErrorContext(ctx, "record cannot be processed; skipped",
				"sequenceNumber", rec.Change.SequenceNumber, "eventId", o.stored.EventID, "type", o.stored.Type,
				"streamId", o.stored.StreamID, "error", o.err.Error())
		case o.err != nil:
			h.observe(observation(o.stored, o.res, o.err))
			log.ErrorContext(ctx, "record failed; it and later records will be retried",
				"sequenceNumber", rec.Change.SequenceNumber, "eventId", o.stored.EventID, "type", o.stored.Type,
				"retried", len(ev.Records)-failedAt, "error", o.err.Error())
		default:
			counts[o.res.Outcome]++
			h.observe(observation(o.stored, o.res, nil))
		}
	}
	h.summary(ctx, log, len(ev.Records), counts)
	if h.Observer != nil {
		h.Observer.ObserveBatch(len(ev.Records), len(resp.BatchItemFailures))
	}
	return resp, nil
}

func (h *Handler) concurrency() int {
	if h.MaxConcurrency > 0 {
		return h.MaxConcurrency
	}
	return DefaultMaxConcurrency
}

type outcomeKind int

const (
	outcomeNotRun outcomeKind = iota
	outcomeIgnored
	outcomeUnreadable
	outcomeProcessed
)

// recordOutcome is what became of one record of a batch.
type recordOutcome struct {
	kind   outcomeKind
	stored eventstore.Record
	res    notify.Result
	err    error
}

func (h *Handler) observe(r metrics.NotifyRecord) {
	if h.Observer != nil {
		h.Observer.ObserveRecord(r)
	}
}

// observation describes a processed record (err from Process) for the
// Observer.
func observation(r eventstore.Record, res notify.Result, err error) metrics.NotifyRecord {
	o := metrics.NotifyRecord{
		Outcome:      res.Outcome,
		EventType:    r.Type,
		Topic:        res.Topic,
		Status:       res.Status,
		Simulcast:    fastpix.IsSimulcast(r.Type),
		StateUpdated: res.StateUpdated,
		Info:         res.Info,
		ClockSkewed:  res.ClockSkewed,
		PublishedAt:  res.PublishedAt,
		// Set only when Process succeeded: a record that failed after
		// its change left is counted when the retry sends it again.
		ChangePublished: res.ChangePublished && err == nil,
	}
	occurred := res.OccurredAt
	if occurred == "" {
		occurred = r.OccurredAt
	}
	if t, perr := time.Parse(time.RFC3339Nano, occurred); perr == nil {
		o.OccurredAt = t
	}
	if err != nil {
		o.Outcome = notify.Failed
		switch {
		case errors.Is(err, notify.ErrPublish):
			o.Failure = metrics.FailurePublish
		case errors.Is(err, notify.ErrState):
			o.Failure = metrics.FailureState
		case errors.Is(err, notify.ErrEnqueue):
			o.Failure = metrics.FailureQueue
		}
	}
	return o
}

func (h *Handler) summary(ctx context.Context, log *slog.Logger, n int, counts map[notify.Outcome]int) {
	attrs := []slog.Attr{slog.Int("records", n)}
	for _, o := range notify.Outcomes() {
		attrs = append(attrs, slog.Int(string(o), counts[o]))
	}
	log.LogAttrs(ctx, slog.LevelInfo, "batch processed", attrs...)
}

// RecordOf reads the stored event out of a stream record's new image.
func RecordOf(rec events.DynamoDBEventRecord) (eventstore.Record, error) {
	if len(rec.Change.NewImage) == 0 {
		return eventstore.Record{}, fmt.Errorf("%w: %s has no new image (the stream must be NEW_IMAGE)", ErrBadRecord, rec.Change.SequenceNumber)
	}
	item, err := itemOf(rec.Change.NewImage)
	if err != nil {
		return eventstore.Record{}, fmt.Errorf("%w: %s: %w", ErrBadRecord, rec.Change.SequenceNumber, err)
	}
	r, err := eventstore.RecordFromItem(item)
	if err != nil {
		return r, fmt.Errorf("%w: %s: %w", ErrBadRecord, rec.Change.SequenceNumber, err)
	}
	return r, nil
}

func itemOf(image map[string]events.DynamoDBAttributeValue) (map[string]types.AttributeValue, error) {
	item := make(map[string]types.AttributeValue, len(image))
	for k, v := range image {
		av, err := attrOf(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		item[k] = av
	}
	return item, nil
}

func attrOf(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case events.DataTypeList:
		l := v.List()
		out := make([]types.AttributeValue, len(l))
		for i, e := range l {
			av, err := attrOf(e)
			if err != nil {
				return nil, err
			}
			out[i] = av
		}
		return &types.AttributeValueMemberL{Value: out}, nil
	case events.DataTypeMap:
		m, err := itemOf(v.Map())
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	}
	return nil, fmt.Errorf("unknown data type %v", v.DataType())
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
