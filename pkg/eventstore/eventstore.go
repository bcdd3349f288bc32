package eventstore

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/internal/ddbitem"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
)

// The events table's schema.
const (
	// KeyStreamID is the partition key (S): the stream's id, so a stream's
	// events are one item collection, read back in one strongly consistent
	// query. An event about no stream has a log of its own (LogKey).
	KeyStreamID = "streamId"
	// KeyEventID is the sort key (S): FastPix's event id, the identity that
	// stays the same across retries, so an event is stored once.
	KeyEventID = "eventId"
	// IndexByTime is the local secondary index that reads a stream's log in
	// order: partition KeyStreamID, sort AttrOrderKey.
	IndexByTime = "byTime"
	// AttrOrderKey is the event's place in its stream's log (OrderKey).
	AttrOrderKey = "orderKey"

	// AttrStreamID is KeyStreamID, by its other name.
	AttrStreamID      = KeyStreamID
	AttrType          = "type"
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

// NoStreamPrefix starts the log key of an event about no stream. A stream
// id never has it: FastPix's are hex, and "/" in a stream id is refused at
// the query API's door.
const NoStreamPrefix = "nostream/"

// DefaultClockSkewTolerance is how far ahead of our receive time FastPix's
// createdAt is trusted when nothing else is set.
const DefaultClockSkewTolerance = 60 * time.Second

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

// DynamoDB's limits on what Put writes: a partition key (streamId) is at
// most 2048 bytes, a sort key (eventId, and orderKey in the byTime index)
// at most 1024, and an item, attribute names included, at most 400 KB.
const (
	MaxKeyBytes     = 2048
	MaxSortKeyBytes = 1024
	MaxItemBytes    = 400 * 1024
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
	// OrderKey is the event's place in its stream's log (see OrderKey).
	OrderKey string
}

// orderKey is r's OrderKey, or for a record built without one (a record
// read from the table of the previous layout) the place its occurredAt,
// its type's rank and its id give it: every stored event is in its log.
func (r Record) orderKey() string {
	if r.OrderKey != "" {
		return r.OrderKey
	}
	at := r.OccurredAt
	if at == "" {
		at = r.ReceivedAt
	}
	change, _ := fastpix.ChangeOf(r.Type, "")
	return OrderKey(at, change.Rank, r.EventID)
}

// LogKey is the partition the record is stored in: its stream's id, or for
// an event about no stream a log of its own, by its object's id (else its
// own id).
func (r Record) LogKey() string {
	switch {
	case r.StreamID != "":
		return r.StreamID
	case r.ObjectID != "":
		return NoStreamPrefix + r.ObjectID
	}
	return NoStreamPrefix + r.EventID
}

// StreamOfLogKey is the stream whose log key is key, and false for the log
// of an event about no stream.
func StreamOfLogKey(key string) (string, bool) {
	if strings.HasPrefix(key, NoStreamPrefix) {
		return "", false
	}
	return key, true
}

// OrderKey is the place of an event in its stream's log: the time it is
// ordered by (orderTime, TimeLayout), then its lifecycle rank (a
// disconnect after the active it ends, at the same instant), then its id:
// text order is the order the stream's state applies events in.
func OrderKey(orderTime string, rank int, eventID string) string {
	return fmt.Sprintf("%s/%02d/%s", orderTime, max(0, min(rank, 99)), eventID)
}

// orderTime is when an event received at receivedAt is ordered in its log:
// FastPix's createdAt, unless it is more than tolerance ahead of our
// receive time (one sender's clock in the future must not put the event
// after everything the stream does next); then the receive time.
func orderTime(createdAt, receivedAt time.Time, tolerance time.Duration) (time.Time, bool) {
	if tolerance <= 0 {
		tolerance = DefaultClockSkewTolerance
	}
	if createdAt.Sub(receivedAt) > tolerance {
		return receivedAt, true
	}
	return createdAt, false
}

// NewRecord builds the record of ev, received at receivedAt, whose redacted
// body is payload. An event whose createdAt is missing or unreadable is
// placed at its arrival time, so it still sorts into its stream's log; one
// whose createdAt is more than tolerance ahead of receivedAt is ordered by
// receivedAt (OccurredAt keeps createdAt as sent). The second result says
// that happened.
func NewRecord(ev fastpix.Event, payload []byte, receivedAt time.Time, retention, tolerance time.Duration) (Record, bool) {
	occurred := ev.CreatedAt
	if occurred.IsZero() {
		occurred = receivedAt
	}
	if retention <= 0 {
		retention = DefaultRetention
	}
	ordered, skewed := orderTime(occurred, receivedAt, tolerance)
	change, _ := fastpix.ChangeOf(ev.Type, ev.Status)
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
		OrderKey:      OrderKey(FormatTime(ordered), change.Rank, ev.ID),
	}, skewed
}

// Item is the record as a DynamoDB item. Empty optional attributes are left
// out (an index key may not be an empty string); an event about no stream
// is stored under its LogKey.
func (r Record) Item() map[string]types.AttributeValue {
	item := make(map[string]types.AttributeValue, 14)
	item[KeyStreamID] = &types.AttributeValueMemberS{Value: r.LogKey()}
	item[KeyEventID] = &types.AttributeValueMemberS{Value: r.EventID}
	item[AttrType] = &types.AttributeValueMemberS{Value: r.Type}
	put := func(name, v string) {
		if v != "" {
			item[name] = &types.AttributeValueMemberS{Value: v}
		}
	}
	put(AttrOrderKey, r.orderKey())
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
	if id, ok := StreamOfLogKey(str(KeyStreamID)); ok {
		r.StreamID = id
	}
	r.OrderKey = str(AttrOrderKey)
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

// putCondition makes the write happen once per event (its stream and id:
// the item's key): concurrent duplicates race on it, and exactly one wins,
// whatever else differs between them (attempts, headers).
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
	var full *types.ItemCollectionSizeLimitExceededException
	if errors.As(err, &full) {
		// A stream's log (item and index entries) is past 10 GB: no retry
		// stores this event until older ones expire. Said, not retried.
		return fmt.Errorf("%w: stream %.64s: its log is at DynamoDB's 10 GB item collection limit: %w", ErrUnstorable, r.LogKey(), err)
	}
	return fmt.Errorf("eventstore: put event %s into %s: %w", r.EventID, s.Table, err)
}

// Storable says whether Put could store r: nil, or ErrUnstorable with what
// is beyond DynamoDB's limits. A migration's dry run asks it of every event.
func (r Record) Storable() error { return storable(r, r.Item()) }

// storable checks the item against DynamoDB's key and item size limits.
func storable(r Record, item map[string]types.AttributeValue) error {
	if len(r.EventID) > MaxSortKeyBytes {
		return fmt.Errorf("%w: %s is %d bytes, at most %d", ErrUnstorable, KeyEventID, len(r.EventID), MaxSortKeyBytes)
	}
	if key := r.LogKey(); len(key) > MaxKeyBytes {
		return fmt.Errorf("%w: event %.64s: %s is %d bytes, at most %d", ErrUnstorable, r.EventID, KeyStreamID, len(key), MaxKeyBytes)
	}
	// An index's sort key is at most 1024 bytes.
	if key := r.orderKey(); len(key) > MaxSortKeyBytes {
		return fmt.Errorf("%w: event %.64s: %s is %d bytes, at most %d", ErrUnstorable, r.EventID, AttrOrderKey, len(key), MaxSortKeyBytes)
	}
	size := ItemSize(item)
	if size > MaxItemBytes {
		return fmt.Errorf("%w: event %.64s: item is %d bytes, at most %d", ErrUnstorable, r.EventID, size, MaxItemBytes)
	}
	return nil
}

// ItemSize is an item's size as DynamoDB counts it against MaxItemBytes:
// its attribute names and values (a number's digits are an upper bound).
func ItemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name)
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			n += len(v.Value)
		case *types.AttributeValueMemberN:
			n += len(v.Value)
		case *types.AttributeValueMemberB:
			n += len(v.Value)
		default:
			n++
		}
	}
	return n
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
