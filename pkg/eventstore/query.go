package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	pagecursor "github.com/streamhook/fastpix-receiver/internal/cursor"
	"github.com/streamhook/fastpix-receiver/internal/ddbitem"
)

// Limits of a stream query.
const (
	// DefaultLimit is the page size when the caller names none.
	DefaultLimit = 25
	// MaxLimit is the largest page a caller may ask for.
	MaxLimit = 100
	// MaxTypes is how many event types one query may filter on.
	MaxTypes = 10
	// maxRequests bounds the DynamoDB requests one page may take: with a type
	// filter, a stream with many events of other types would otherwise cost
	// an unbounded amount of reading for one answer. A page cut short by it
	// still carries a cursor, so the caller loses nothing.
	maxRequests = 10
)

// Errors of StreamEvents, for callers to branch on with errors.Is.
var (
	// ErrBadCursor: the cursor is not one this store handed out for this
	// stream and order (corrupt, edited, or from another query).
	ErrBadCursor = errors.New("eventstore: bad cursor")
	// ErrBadQuery: the query asks for something out of range (limit, types,
	// no stream).
	ErrBadQuery = errors.New("eventstore: bad query")
)

// StreamQuery asks for one page of a stream's events.
type StreamQuery struct {
	StreamID string
	// Limit is the page size: 0 means DefaultLimit, at most MaxLimit.
	Limit int
	// Ascending lists oldest first; the default is newest first, which is
	// what a person looking at a stream wants to see.
	Ascending bool
	// Types keeps only events of these types; empty keeps all.
	Types []string
	// Cursor continues from where the previous page ended: its NextCursor.
	Cursor string
}

// Page is one page of a stream's events in log order.
type Page struct {
	Records []Record
	// NextCursor continues the listing; "" when this is the last page.
	NextCursor string
}

// QueryAPI is the part of the DynamoDB client the reader queries with.
type QueryAPI interface {
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Reader reads a stream's events through the byTime index: pages for the
// query API (StreamEvents), and the whole log after a position for the
// notifier (ReadLog).
type Reader struct {
	Client QueryAPI
	Table  string
}

// StreamReader is what the query API needs of the event store.
type StreamReader interface {
	StreamEvents(ctx context.Context, q StreamQuery) (Page, error)
}

var _ StreamReader = (*Reader)(nil)

// cursor is the position after the last event of a page: the byTime
// index's key of that event (index key plus table key, which is what
// DynamoDB's LastEvaluatedKey holds for an index), and the order it was
// listed in, so a cursor cannot silently be replayed the other way.
type cursor struct {
	Version   int    `json:"v"`
	StreamID  string `json:"s"`
	OrderKey  string `json:"k"`
	EventID   string `json:"e"`
	Ascending bool   `json:"a,omitempty"`
}

// cursorVersion 2: positions in the byTime index (1 was byStream's).
const cursorVersion = 2

func encodeCursor(c cursor) string {
	c.Version = cursorVersion
	return pagecursor.Encode(c)
}

// decodeCursor checks everything a caller could have changed: a cursor is
// opaque to callers, and whatever comes back is validated before it becomes
// a DynamoDB key.
func decodeCursor(s string, q StreamQuery) (cursor, error) {
	var c cursor
	if err := pagecursor.Decode(s, &c); err != nil {
		return c, fmt.Errorf("%w: %w", ErrBadCursor, err)
	}
	switch {
	case c.Version != cursorVersion:
		return c, fmt.Errorf("%w: unknown version %d", ErrBadCursor, c.Version)
	case c.StreamID != q.StreamID:
		return c, fmt.Errorf("%w: it belongs to another stream", ErrBadCursor)
	case c.EventID == "":
		return c, fmt.Errorf("%w: no event id", ErrBadCursor)
	case c.Ascending != q.Ascending:
		return c, fmt.Errorf("%w: it was made for the other order", ErrBadCursor)
	}
	at, _, _ := strings.Cut(c.OrderKey, "/")
	if _, err := time.Parse(TimeLayout, at); err != nil || !strings.HasSuffix(c.OrderKey, "/"+c.EventID) {
		return c, fmt.Errorf("%w: bad position", ErrBadCursor)
	}
	return c, nil
}

func (c cursor) key() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		KeyStreamID:  &types.AttributeValueMemberS{Value: c.StreamID},
		KeyEventID:   &types.AttributeValueMemberS{Value: c.EventID},
		AttrOrderKey: &types.AttributeValueMemberS{Value: c.OrderKey},
	}
}

// Normalize checks q and fills in the default limit.
func (q StreamQuery) Normalize() (StreamQuery, error) {
	if q.StreamID == "" {
		return q, fmt.Errorf("%w: no stream id", ErrBadQuery)
	}
	if len(q.StreamID) > MaxKeyBytes {
		return q, fmt.Errorf("%w: stream id is %d bytes, at most %d", ErrBadQuery, len(q.StreamID), MaxKeyBytes)
	}
	if _, ok := StreamOfLogKey(q.StreamID); !ok {
		return q, fmt.Errorf("%w: %q is not a stream id", ErrBadQuery, q.StreamID)
	}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultLimit
	case q.Limit < 0 || q.Limit > MaxLimit:
		return q, fmt.Errorf("%w: limit must be between 1 and %d", ErrBadQuery, MaxLimit)
	}
	if len(q.Types) > MaxTypes {
		return q, fmt.Errorf("%w: at most %d types", ErrBadQuery, MaxTypes)
	}
	for _, t := range q.Types {
		if t == "" {
			return q, fmt.Errorf("%w: empty type", ErrBadQuery)
		}
	}
	return q, nil
}

// StreamEvents returns one page of q.StreamID's events in log order.
//
// A type filter is a FilterExpression, which DynamoDB applies after reading
// a page: a DynamoDB page can hold fewer matches than asked for, or none,
// and still have more behind it. So pages are read until the answer is full,
// asking each time for one event more than is still needed: when that extra
// event exists, the answer's cursor is the key of its last event; when the
// index runs out first, there is no cursor. Reading stops after maxRequests
// requests, so that one page's cost is bounded: with a filter that matches
// few events, such a page can be short, even empty, and still carry a
// cursor to continue from. A caller follows nextCursor until there is none.
func (r *Reader) StreamEvents(ctx context.Context, q StreamQuery) (Page, error) {
	q, err := q.Normalize()
	if err != nil {
		return Page{}, err
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(r.Table),
		IndexName:                 aws.String(IndexByTime),
		KeyConditionExpression:    aws.String("#s = :s"),
		ExpressionAttributeNames:  map[string]string{"#s": AttrStreamID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: q.StreamID}},
		ScanIndexForward:          aws.Bool(q.Ascending),
	}
	if len(q.Types) > 0 {
		in.ExpressionAttributeNames["#t"] = AttrType
		names := make([]string, len(q.Types))
		for i, t := range q.Types {
			name := ":t" + strconv.Itoa(i)
			names[i] = name
			in.ExpressionAttributeValues[name] = &types.AttributeValueMemberS{Value: t}
		}
		in.FilterExpression = aws.String("#t IN (" + strings.Join(names, ", ") + ")")
	}
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor, q)
		if err != nil {
			return Page{}, err
		}
		in.ExclusiveStartKey = c.key()
	}

	want := q.Limit + 1 // one more than the page, to know whether more exist
	var recs []Record
	var lastKey map[string]types.AttributeValue
	for range maxRequests {
		in.Limit = aws.Int32(int32(want - len(recs)))
		out, err := r.Client.Query(ctx, in)
		if err != nil {
			return Page{}, fmt.Errorf("eventstore: query stream %s in %s: %w", q.StreamID, r.Table, err)
		}
		for _, item := range out.Items {
			rec, err := RecordFromItem(item)
			if err != nil {
				return Page{}, fmt.Errorf("eventstore: query stream %s: %w", q.StreamID, err)
			}
			recs = append(recs, rec)
		}
		lastKey = out.LastEvaluatedKey
		if len(recs) >= want || len(lastKey) == 0 {
			break
		}
		in.ExclusiveStartKey = lastKey
	}

	page := Page{Records: recs}
	switch {
	case len(recs) > q.Limit:
		// The extra event exists: the page ends at the one before it.
		page.Records = recs[:q.Limit]
		last := page.Records[q.Limit-1]
		page.NextCursor = encodeCursor(cursor{StreamID: q.StreamID, OrderKey: last.OrderKey, EventID: last.EventID, Ascending: q.Ascending})
	case len(lastKey) > 0:
		// Cut short by maxRequests: continue from where reading stopped.
		c, err := cursorFromKey(lastKey, q)
		if err != nil {
			return Page{}, err
		}
		page.NextCursor = encodeCursor(c)
	}
	return page, nil
}

func cursorFromKey(key map[string]types.AttributeValue, q StreamQuery) (cursor, error) {
	str := func(name string) string { return ddbitem.String(key, name) }
	c := cursor{StreamID: str(KeyStreamID), OrderKey: str(AttrOrderKey), EventID: str(KeyEventID), Ascending: q.Ascending}
	if c.StreamID != q.StreamID || c.EventID == "" || c.OrderKey == "" {
		return c, fmt.Errorf("eventstore: query stream %s: unexpected LastEvaluatedKey", q.StreamID)
	}
	return c, nil
}

// LogReader reads a stream's log.
type LogReader interface {
	// ReadLog returns the events of the log logKey after the position
	// after ("" for all) that reached us after receivedAfter ("" for
	// all), in order, with a strongly consistent read: an event whose
	// write was acknowledged is in it.
	ReadLog(ctx context.Context, logKey, after, receivedAfter string) ([]Record, error)
}

var _ LogReader = (*Reader)(nil)

// ReadLog implements LogReader: one Query of the byTime index, page after
// page to the end (a stream's new events are few). receivedAfter is a
// filter: the events received before it are read (and paid for) but not
// returned.
func (r *Reader) ReadLog(ctx context.Context, logKey, after, receivedAfter string) ([]Record, error) {
	in := &dynamodb.QueryInput{
		TableName:                aws.String(r.Table),
		IndexName:                aws.String(IndexByTime),
		ConsistentRead:           aws.Bool(true),
		KeyConditionExpression:   aws.String("#k = :k"),
		ExpressionAttributeNames: map[string]string{"#k": KeyStreamID},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":k": &types.AttributeValueMemberS{Value: logKey},
		},
	}
	if after != "" {
		in.KeyConditionExpression = aws.String("#k = :k AND #o > :after")
		in.ExpressionAttributeNames["#o"] = AttrOrderKey
		in.ExpressionAttributeValues[":after"] = &types.AttributeValueMemberS{Value: after}
	}
	if receivedAfter != "" {
		in.FilterExpression = aws.String("#r > :since")
		in.ExpressionAttributeNames["#r"] = AttrReceivedAt
		in.ExpressionAttributeValues[":since"] = &types.AttributeValueMemberS{Value: receivedAfter}
	}
	var out []Record
	for {
		page, err := r.Client.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("eventstore: read the log of %.64s after %q: %w", logKey, after, err)
		}
		for _, item := range page.Items {
			rec, err := RecordFromItem(item)
			if err != nil {
				return nil, fmt.Errorf("eventstore: read the log of %.64s: %w", logKey, err)
			}
			out = append(out, rec)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// ErrNotFound: no event with this id is stored in this log.
var ErrNotFound = errors.New("eventstore: event not found")

// GetAPI is the part of the DynamoDB client GetEvent reads with.
type GetAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// EventReader reads one event of a log by its id, strongly consistent.
type EventReader struct {
	Client GetAPI
	Table  string
}

// GetEvent reads the event eventID of the log logKey, or ErrNotFound.
func (r *EventReader) GetEvent(ctx context.Context, logKey, eventID string) (Record, error) {
	out, err := r.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(r.Table),
		ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			KeyStreamID: &types.AttributeValueMemberS{Value: logKey},
			KeyEventID:  &types.AttributeValueMemberS{Value: eventID},
		},
	})
	if err != nil {
		return Record{}, fmt.Errorf("eventstore: get event %.64s of %.64s: %w", eventID, logKey, err)
	}
	if len(out.Item) == 0 {
		return Record{}, fmt.Errorf("%w: %.64s of %.64s", ErrNotFound, eventID, logKey)
	}
	return RecordFromItem(out.Item)
}

// Log is the events table as the notifier reads it: a stream's log after a
// position, and one event by its id.
type Log struct {
	*Reader
	*EventReader
}

// NewLog is the Log of table through client.
func NewLog(client interface {
	QueryAPI
	GetAPI
}, table string) *Log {
	return &Log{Reader: &Reader{Client: client, Table: table}, EventReader: &EventReader{Client: client, Table: table}}
}
