// Package eventstore keeps FastPix events in DynamoDB: one item per event id,
// written once, and read back per stream through the byStream index.
//
// The table's shape (key, index, attribute names) is declared here once; the
// SAM template, the local stack and the tests are checked against these
// constants.
package eventstore

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/internal/ddbitem"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
)

// The events table's schema.
const (
	// KeyEventID is the table's partition key (S): FastPix's event id, the
	// idempotency key that stays the same across retries.
	KeyEventID = "eventId"
	// IndexByStream is the global secondary index that lists a stream's
	// events in order: partition AttrStreamID, sort AttrOccurredAt.
	IndexByStream = "byStream"

	AttrType          = "type"
	AttrStreamID      = "streamId"
	AttrSimulcastID   = "simulcastId"
	AttrObjectType    = "objectType"
	AttrObjectID      = "objectId"
	AttrWorkspaceID   = "workspaceId"
	AttrWorkspaceName = "workspaceName"
	AttrOccurredAt    = "occurredAt"
	AttrReceivedAt    = "receivedAt"
	AttrPayload       = "payload"
	// AttrPayloadGzip holds the payload instead of AttrPayload, gzipped (B),
	// when it is longer than PayloadInlineMax.
	AttrPayloadGzip = "payloadGzip"
	AttrTest        = "test"
	// AttrExpiresAt holds epoch seconds; the table's TTL is set on it.
	AttrExpiresAt = "expiresAt"
)

// DefaultRetention is how long events are kept when nothing else is set.
const DefaultRetention = 90 * 24 * time.Hour

// TimeLayout is how occurredAt and receivedAt are written: UTC, RFC 3339
// with exactly nine fractional digits, so that text order is time order.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// FormatTime writes t in TimeLayout.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// ErrDuplicate: an event with this id is stored already. Nothing was written.
var ErrDuplicate = errors.New("eventstore: event already stored")

// ErrUnstorable: the event is beyond what DynamoDB can hold (a key longer
// than MaxKeyBytes, an item larger than MaxItemBytes). Nothing was written,
// and no retry will ever store it, so callers must not answer "retry later".
var ErrUnstorable = errors.New("eventstore: event exceeds DynamoDB's limits")

// DynamoDB's limits on what Put writes: a partition key (eventId, and
// streamId as the byStream index's partition key) is at most 2048 bytes, and
// an item, attribute names included, at most 400 KB.
const (
	MaxKeyBytes  = 2048
	MaxItemBytes = 400 * 1024
)

// PayloadInlineMax is the longest payload kept as text. FastPix's events are
// a few kilobytes; a longer one (the webhook takes bodies up to 1 MiB) is
// gzipped, so that it still fits DynamoDB's item limit rather than being
// refused. Text stays the rule, so people reading the table with the AWS CLI
// see JSON.
const PayloadInlineMax = 64 * 1024

// Record is one stored event. Payload is the redacted event as JSON text:
// credentials never reach the table.
type Record struct {
	EventID       string
	Type          string
	StreamID      string // "" when the event belongs to no stream
	SimulcastID   string
	ObjectType    string
	ObjectID      string
	WorkspaceID   string
	WorkspaceName string
	OccurredAt    string // TimeLayout
	ReceivedAt    string // TimeLayout
	Test          bool
	Payload       string
	ExpiresAt     int64 // epoch seconds
	OrderKey      string
}

// NewRecord builds the record of ev, received at receivedAt, whose redacted
// body is payload. An event whose createdAt is missing or unreadable is
// placed at its arrival time, so it still sorts into its stream's history.
func NewRecord(ev fastpix.Event, payload []byte, receivedAt time.Time, retention time.Duration) Record {
	occurred := ev.CreatedAt
	if occurred.IsZero() {
		occurred = receivedAt
	}
	if retention <= 0 {
		retention = DefaultRetention
	}
	return Record{
		EventID:       ev.ID,
		Type:          ev.Type,
		StreamID:      ev.StreamID,
		SimulcastID:   ev.SimulcastID,
		ObjectType:    ev.Object.Type,
		ObjectID:      ev.Object.ID,
		WorkspaceID:   ev.Workspace.ID,
		WorkspaceName: ev.Workspace.Name,
		OccurredAt:    FormatTime(occurred),
		ReceivedAt:    FormatTime(receivedAt),
		Test:          ev.Test,
		Payload:       string(payload),
		ExpiresAt:     receivedAt.Add(retention).Unix(),
	}
}

// Item is the record as a DynamoDB item. Empty optional attributes are left
// out: an index key may not be an empty string, and a missing streamId keeps
// the event out of the byStream index (it belongs to no stream).
func (r Record) Item() map[string]types.AttributeValue {
	item := make(map[string]types.AttributeValue, 13)
	item[KeyEventID] = &types.AttributeValueMemberS{Value: r.EventID}
	item[AttrType] = &types.AttributeValueMemberS{Value: r.Type}
	put := func(name, v string) {
		if v != "" {
			item[name] = &types.AttributeValueMemberS{Value: v}
		}
	}
	put(AttrStreamID, r.StreamID)
	put(AttrSimulcastID, r.SimulcastID)
	put(AttrObjectType, r.ObjectType)
	put(AttrObjectID, r.ObjectID)
	put(AttrWorkspaceID, r.WorkspaceID)
	put(AttrWorkspaceName, r.WorkspaceName)
	put(AttrOccurredAt, r.OccurredAt)
	put(AttrReceivedAt, r.ReceivedAt)
	if len(r.Payload) > PayloadInlineMax {
		item[AttrPayloadGzip] = &types.AttributeValueMemberB{Value: gzipped(r.Payload)}
	} else {
		put(AttrPayload, r.Payload)
	}
	if r.Test {
		item[AttrTest] = &types.AttributeValueMemberBOOL{Value: true}
	}
	if r.ExpiresAt > 0 {
		item[AttrExpiresAt] = &types.AttributeValueMemberN{Value: strconv.FormatInt(r.ExpiresAt, 10)}
	}
	return item
}

// RecordFromItem reads a record back from a DynamoDB item, as a query or a
// stream record gives it.
func RecordFromItem(item map[string]types.AttributeValue) (Record, error) {
	var r Record
	str := func(name string) string { return ddbitem.String(item, name) }
	r.EventID = str(KeyEventID)
	if r.EventID == "" {
		return r, fmt.Errorf("eventstore: item has no %s", KeyEventID)
	}
	r.Type = str(AttrType)
	r.StreamID = str(AttrStreamID)
	r.SimulcastID = str(AttrSimulcastID)
	r.ObjectType = str(AttrObjectType)
	r.ObjectID = str(AttrObjectID)
	r.WorkspaceID = str(AttrWorkspaceID)
	r.WorkspaceName = str(AttrWorkspaceName)
	r.OccurredAt = str(AttrOccurredAt)
	r.ReceivedAt = str(AttrReceivedAt)
	r.Payload = str(AttrPayload)
	if v, ok := item[AttrPayloadGzip].(*types.AttributeValueMemberB); ok {
		p, err := gunzipped(v.Value)
		if err != nil {
			return r, fmt.Errorf("eventstore: item %s: bad %s: %w", r.EventID, AttrPayloadGzip, err)
		}
		r.Payload = p
	}
	if v, ok := item[AttrTest].(*types.AttributeValueMemberBOOL); ok {
		r.Test = v.Value
	}
	if v, ok := item[AttrExpiresAt].(*types.AttributeValueMemberN); ok {
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			return r, fmt.Errorf("eventstore: item %s: bad %s %q: %w", r.EventID, AttrExpiresAt, v.Value, err)
		}
		r.ExpiresAt = n
	}
	return r, nil
}

// Writer stores events. Put returns ErrDuplicate when the event id is stored
// already; any other error means the event may not be durable and the
// delivery must be retried.
type Writer interface {
	Put(ctx context.Context, r Record) error
}

// PutItemAPI is the part of the DynamoDB client the store writes with.
type PutItemAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// DynamoDB is the Writer backed by a DynamoDB table.
type DynamoDB struct {
	Client PutItemAPI
	Table  string
}

var _ Writer = (*DynamoDB)(nil)

// putCondition makes the write happen once per event id: concurrent
// duplicates race on it, and exactly one wins.
var putCondition = aws.String("attribute_not_exists(" + KeyEventID + ")")

// Put writes r with one conditional PutItem. A record DynamoDB would refuse
// for its size is refused up front with ErrUnstorable, so that it is not
// mistaken for an outage and retried for ever.
func (s *DynamoDB) Put(ctx context.Context, r Record) error {
	item := r.Item()
	if err := storable(r, item); err != nil {
		return err
	}
	_, err := s.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.Table),
		Item:                item,
		ConditionExpression: putCondition,
	})
	if err == nil {
		return nil
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ErrDuplicate
	}
	return fmt.Errorf("eventstore: put event %s into %s: %w", r.EventID, s.Table, err)
}

// storable checks the item against DynamoDB's key and item size limits.
func storable(r Record, item map[string]types.AttributeValue) error {
	if len(r.EventID) > MaxKeyBytes {
		return fmt.Errorf("%w: %s is %d bytes, at most %d", ErrUnstorable, KeyEventID, len(r.EventID), MaxKeyBytes)
	}
	if len(r.StreamID) > MaxKeyBytes {
		return fmt.Errorf("%w: event %.64s: %s is %d bytes, at most %d", ErrUnstorable, r.EventID, AttrStreamID, len(r.StreamID), MaxKeyBytes)
	}
	size := 0
	for name, v := range item {
		size += len(name)
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			size += len(v.Value)
		case *types.AttributeValueMemberN:
			size += len(v.Value) // an upper bound of DynamoDB's count
		case *types.AttributeValueMemberB:
			size += len(v.Value)
		default:
			size++
		}
	}
	if size > MaxItemBytes {
		return fmt.Errorf("%w: event %.64s: item is %d bytes, at most %d", ErrUnstorable, r.EventID, size, MaxItemBytes)
	}
	return nil
}

func gzipped(s string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	// Writes to a bytes.Buffer do not fail.
	_, _ = zw.Write([]byte(s))
	_ = zw.Close()
	return buf.Bytes()
}

// gunzipped reads a payload back, refusing one that inflates beyond what
// could have been stored as a body, so a corrupt item cannot exhaust memory.
func gunzipped(b []byte) (string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	const limit = 8 << 20
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil {
		return "", err
	}
	if len(out) > limit {
		return "", errors.New("inflates beyond 8 MiB")
	}
	return string(out), nil
}
