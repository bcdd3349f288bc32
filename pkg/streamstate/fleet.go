package streamstate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/internal/cursor"
	"github.com/streamhook/fastpix-receiver/internal/ddbitem"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
)

// The fleet listing's part of the schema.
const (
	// IndexByStatus is the sparse global secondary index that lists the
	// streams in one status, most recently changed first: partition
	// AttrStatus, sort AttrListOrder, every attribute projected. An item
	// without a status (only simulcast target events seen so far) is not in
	// it.
	IndexByStatus = "byStatus"
	// AttrListOrder is the index's sort key: when the stream's status was
	// last set, the time its transitions are ordered by. (AttrStatusOrder
	// would add the lifecycle rank, but items written before it existed
	// lack it and would be missing from the index.)
	AttrListOrder = AttrLastOccurredAt
)

// Limits of a fleet listing.
const (
	DefaultListLimit = 25
	MaxListLimit     = 100
)

// StreamStatuses are the statuses a stream's state can hold, in lifecycle
// order: what a fleet listing may ask for.
var StreamStatuses = fastpix.StreamStatuses()

// Errors of List, for callers to branch on with errors.Is.
var (
	// ErrBadListQuery: no status, an unknown status, or a limit out of
	// range.
	ErrBadListQuery = errors.New("streamstate: bad list query")
	// ErrBadListCursor: the cursor is not one List handed out for the same
	// statuses and workspace.
	ErrBadListCursor = errors.New("streamstate: bad list cursor")
)

// ListQuery asks for one page of the streams in some statuses.
type ListQuery struct {
	// Statuses are the statuses to list, at least one (see StreamStatuses).
	Statuses []string
	// WorkspaceID keeps only the streams of one workspace; "" keeps all.
	WorkspaceID string
	// Limit is the page size: 0 means DefaultListLimit, at most
	// MaxListLimit.
	Limit int
	// Cursor continues from the previous page's NextCursor.
	Cursor string
}

// Listed is one stream of a fleet listing.
type Listed struct {
	StreamID    string `json:"streamId"`
	WorkspaceID string `json:"workspaceId,omitempty"`
	Status      string `json:"status"`
	// Since is when the stream's status was last set (the event's
	// occurredAt, eventstore.TimeLayout).
	Since            string                  `json:"since"`
	SimulcastTargets map[string]ListedTarget `json:"simulcastTargets"`
	// Mark and HeldUntil are what the alert rules add to the status
	// (alertrules.Memory.Mark): "held" until HeldUntil, or "unstable".
	Mark      string `json:"alert,omitempty"`
	HeldUntil string `json:"heldUntil,omitempty"`
}

// ListedTarget is one simulcast target of a listed stream.
type ListedTarget struct {
	Status string `json:"status"`
	Since  string `json:"since"`
}

// ListPage is one page of a fleet listing, most recently changed first.
type ListPage struct {
	Streams []Listed
	// NextCursor continues the listing; "" when this is the last page.
	NextCursor string
}

// Lister lists the fleet by status.
type Lister interface {
	List(ctx context.Context, q ListQuery) (ListPage, error)
}

// Fleet lists the state table's streams by status through IndexByStatus.
type Fleet struct {
	Client eventstore.QueryAPI
	Table  string
}

var _ Lister = (*Fleet)(nil)

// Normalize checks q, fills in the default limit and puts the statuses in
// lifecycle order without repeats, so that the same question always has the
// same cursor.
func (q ListQuery) Normalize() (ListQuery, error) {
	if len(q.Statuses) == 0 {
		return q, fmt.Errorf("%w: name at least one status (%s)", ErrBadListQuery, strings.Join(StreamStatuses, ", "))
	}
	for _, s := range q.Statuses {
		if !slices.Contains(StreamStatuses, s) {
			return q, fmt.Errorf("%w: unknown status %q (valid: %s)", ErrBadListQuery, s, strings.Join(StreamStatuses, ", "))
		}
	}
	statuses := make([]string, 0, len(q.Statuses))
	for _, s := range StreamStatuses {
		if slices.Contains(q.Statuses, s) {
			statuses = append(statuses, s)
		}
	}
	q.Statuses = statuses
	switch {
	case q.Limit == 0:
		q.Limit = DefaultListLimit
	case q.Limit < 0 || q.Limit > MaxListLimit:
		return q, fmt.Errorf("%w: limit must be between 1 and %d", ErrBadListQuery, MaxListLimit)
	}
	return q, nil
}

// position is a place in one status's part of the index: the index key of
// the last stream consumed there. The zero position is the start.
type position struct {
	Order    string `json:"o,omitempty"`
	StreamID string `json:"s,omitempty"`
}

// listCursor is where a listing stopped in each status it still has to
// read; statuses it has read to the end are absent. It names the query it
// belongs to, so that it cannot be replayed on another.
type listCursor struct {
	Version   int                 `json:"v"`
	Statuses  []string            `json:"st"`
	Workspace string              `json:"w,omitempty"`
	Positions map[string]position `json:"p"`
}

const listCursorVersion = 1

func encodeListCursor(c listCursor) string {
	c.Version = listCursorVersion
	return cursor.Encode(c)
}

// decodeListCursor checks everything a caller could have changed before any
// of it becomes a DynamoDB key.
func decodeListCursor(s string, q ListQuery) (listCursor, error) {
	var c listCursor
	if err := cursor.Decode(s, &c); err != nil {
		return c, fmt.Errorf("%w: %w", ErrBadListCursor, err)
	}
	switch {
	case c.Version != listCursorVersion:
		return c, fmt.Errorf("%w: unknown version %d", ErrBadListCursor, c.Version)
	case !slices.Equal(c.Statuses, q.Statuses) || c.Workspace != q.WorkspaceID:
		return c, fmt.Errorf("%w: it belongs to a listing of other statuses or another workspace", ErrBadListCursor)
	case len(c.Positions) == 0:
		return c, fmt.Errorf("%w: nothing left to read", ErrBadListCursor)
	}
	for status, p := range c.Positions {
		if !slices.Contains(q.Statuses, status) {
			return c, fmt.Errorf("%w: status %q is not listed", ErrBadListCursor, status)
		}
		if p == (position{}) {
			continue
		}
		if _, err := time.Parse(eventstore.TimeLayout, p.Order); err != nil || p.StreamID == "" {
			return c, fmt.Errorf("%w: bad position", ErrBadListCursor)
		}
	}
	return c, nil
}

func (p position) key(status string) map[string]types.AttributeValue {
	if p == (position{}) {
		return nil
	}
	return map[string]types.AttributeValue{
		AttrStatus:    str(status),
		AttrListOrder: str(p.Order),
		KeyStreamID:   str(p.StreamID),
	}
}

// partition is what one page read of one status.
type partition struct {
	status string
	start  position
	items  []Listed
	next   int // items consumed into the page
	// more: the index holds more of this status after the items read,
	// from evaluated on (DynamoDB's LastEvaluatedKey).
	more      bool
	evaluated position
}

func (p *partition) head() (Listed, bool) {
	if p.next < len(p.items) {
		return p.items[p.next], true
	}
	return Listed{}, false
}

// resume is where the next page starts reading this status, and false when
// the status has been read to the end.
func (p *partition) resume() (position, bool) {
	switch {
	case p.next < len(p.items) && p.next > 0:
		last := p.items[p.next-1]
		return position{Order: last.Since, StreamID: last.StreamID}, true
	case p.next < len(p.items):
		return p.start, true
	case p.more:
		return p.evaluated, true
	}
	return position{}, false
}

// before reports whether a is listed before b: more recent first, then by
// stream id descending, as DynamoDB orders equal sort keys in a backward
// query.
func before(a, b position) bool {
	if c := cmp.Compare(a.Order, b.Order); c != 0 {
		return c > 0
	}
	return a.StreamID > b.StreamID
}

// List returns one page of the streams in q.Statuses, most recently changed
// first. Each status is one partition of IndexByStatus: a page is one Query
// per listed status (a single Query for a single status), each asking for
// one stream more than the page holds, merged by time. The cursor keeps,
// for each status, the index key of the last stream taken from it, so
// paging to the end returns every stream exactly once, whatever the
// interleaving of statuses. A stream whose status changes moves to the top
// of its new status (its change is the newest), so a listing in progress
// never shows it twice; it may miss it, which the change feed tells.
//
// With a workspace, the other workspaces' streams are left out by a
// FilterExpression after DynamoDB has read them: a page may then hold fewer
// streams than the limit, even none, and still carry a cursor.
func (f *Fleet) List(ctx context.Context, q ListQuery) (ListPage, error) {
	q, err := q.Normalize()
	if err != nil {
		return ListPage{}, err
	}
	starts := make(map[string]position, len(q.Statuses))
	if q.Cursor != "" {
		c, err := decodeListCursor(q.Cursor, q)
		if err != nil {
			return ListPage{}, err
		}
		starts = c.Positions
	} else {
		for _, s := range q.Statuses {
			starts[s] = position{}
		}
	}
	parts := make([]*partition, 0, len(starts))
	for _, status := range q.Statuses {
		start, ok := starts[status]
		if !ok {
			continue
		}
		p, err := f.read(ctx, q, status, start)
		if err != nil {
			return ListPage{}, err
		}
		parts = append(parts, p)
	}

	page := ListPage{Streams: []Listed{}}
	for len(page.Streams) < q.Limit {
		var best *partition
		for _, p := range parts {
			h, ok := p.head()
			if ok && (best == nil || before(listedPosition(h), listedPosition(best.items[best.next]))) {
				best = p
			}
		}
		if best == nil {
			break
		}
		// A status read only partly, with nothing left in hand, may hold
		// streams newer than the candidate: stop rather than guess.
		candidate := listedPosition(best.items[best.next])
		blocked := false
		for _, p := range parts {
			if _, ok := p.head(); !ok && p.more && before(p.evaluated, candidate) {
				blocked = true
			}
		}
		if blocked {
			break
		}
		page.Streams = append(page.Streams, best.items[best.next])
		best.next++
	}

	next := listCursor{Statuses: q.Statuses, Workspace: q.WorkspaceID, Positions: map[string]position{}}
	for _, p := range parts {
		if pos, ok := p.resume(); ok {
			next.Positions[p.status] = pos
		}
	}
	if len(next.Positions) > 0 {
		page.NextCursor = encodeListCursor(next)
	}
	return page, nil
}

func listedPosition(l Listed) position {
	return position{Order: l.Since, StreamID: l.StreamID}
}

// read is the one Query of a page for one status.
func (f *Fleet) read(ctx context.Context, q ListQuery, status string, start position) (*partition, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(f.Table),
		IndexName:                 aws.String(IndexByStatus),
		KeyConditionExpression:    aws.String("#status = :status"),
		ExpressionAttributeNames:  map[string]string{"#status": AttrStatus},
		ExpressionAttributeValues: map[string]types.AttributeValue{":status": str(status)},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(q.Limit + 1)),
		ExclusiveStartKey:         start.key(status),
	}
	if q.WorkspaceID != "" {
		in.FilterExpression = aws.String("#ws = :ws")
		in.ExpressionAttributeNames["#ws"] = AttrWorkspaceID
		in.ExpressionAttributeValues[":ws"] = str(q.WorkspaceID)
	}
	out, err := f.Client.Query(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("streamstate: list streams %s in %s: %w", status, f.Table, err)
	}
	p := &partition{status: status, start: start, items: make([]Listed, 0, len(out.Items))}
	for _, item := range out.Items {
		l := ListedFromItem(item)
		if l.StreamID == "" || l.Status != status || l.Since == "" {
			return nil, fmt.Errorf("streamstate: list streams %s in %s: an index item without its keys", status, f.Table)
		}
		p.items = append(p.items, l)
	}
	if len(out.LastEvaluatedKey) > 0 {
		p.more = true
		p.evaluated = position{Order: ddbitem.String(out.LastEvaluatedKey, AttrListOrder), StreamID: ddbitem.String(out.LastEvaluatedKey, KeyStreamID)}
		if p.evaluated.Order == "" || p.evaluated.StreamID == "" {
			return nil, fmt.Errorf("streamstate: list streams %s in %s: unexpected LastEvaluatedKey", status, f.Table)
		}
	}
	return p, nil
}

// ListedFromItem reads a state item as a listing shows it; attributes of
// unexpected types are treated as absent.
func ListedFromItem(item map[string]types.AttributeValue) Listed {
	st := StateFromItem(item)
	l := Listed{
		StreamID:         st.StreamID,
		WorkspaceID:      st.WorkspaceID,
		Status:           st.Status,
		Since:            ddbitem.String(item, AttrListOrder),
		SimulcastTargets: make(map[string]ListedTarget, len(st.SimulcastTargets)),
	}
	for id, t := range st.SimulcastTargets {
		l.SimulcastTargets[id] = ListedTarget{Status: t.Status, Since: t.LastOccurredAt}
	}
	var until time.Time
	l.Mark, until = st.Memory().Mark()
	if !until.IsZero() {
		l.HeldUntil = eventstore.FormatTime(until)
	}
	return l
}
