// Package streamstate keeps the live view of each stream: its current
// status, the status transition that set it, the newest event about it that
// is not a transition, and the status of each of its simulcast targets, one
// DynamoDB item per stream.
//
// The notifier (pkg/notify) reads a stream's item whole (Load), applies the
// stream's new events to it in memory (State.Apply), and writes it back
// whole (Save), conditionally on the revision it read: one writer at a time
// moves a stream, and the loser of a race reads again. Each status moves
// only forward: the stream's by its status transitions, ordered by
// occurredAt, then by the lifecycle's own order (a disconnect after the
// active it ends), then by event id; each simulcast target's by its own;
// other events about the stream (recording, updated) only the detail
// attributes, ordered among themselves, so they never make a transition
// stale nor are made stale by one. The item also keeps the log position
// applied, the last events applied, what the alert rules remember, and
// what was decided and not yet sent, with the lease of the notifier
// sending it.
//
// The item never outgrows DynamoDB's 400 KB: a deleted simulcast target's
// entry is removed, at most MaxSimulcastTargets entries are kept, and the
// ids in an entry are bounded (MaxTargetFieldBytes).
//
// The table's shape is declared here once; template.yaml's
// StreamStateTable is checked against it.
package streamstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/streamhook/fastpix-receiver/internal/ddbitem"
	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
)

// The stream state table's schema.
const (
	// KeyStreamID is the partition key (S): the FastPix live stream id.
	KeyStreamID = "streamId"

	// AttrStatus is the stream's current status, e.g. "active".
	AttrStatus = "status"
	// AttrLastEventID, AttrLastEventType and AttrLastOccurredAt describe the
	// status transition that set the status; AttrLastOccurredAt is in
	// eventstore.TimeLayout, so text order is time order.
	AttrLastEventID    = "lastEventId"
	AttrLastEventType  = "lastEventType"
	AttrLastOccurredAt = "lastOccurredAt"
	// AttrStatusOrder is that transition's place in the stream's history:
	// its occurredAt and its lifecycle rank ("…Z/05"), so that text order
	// is the order in which transitions apply; ties are broken by
	// AttrLastEventID.
	AttrStatusOrder = "statusOrder"
	// AttrDetailEventID, AttrDetailEventType and AttrDetailOccurredAt
	// describe the newest event about the stream that is not a status
	// transition (recording, updated, …).
	AttrDetailEventID    = "detailEventId"
	AttrDetailEventType  = "detailEventType"
	AttrDetailOccurredAt = "detailOccurredAt"
	// AttrPreviousStatus is the status the stream's current status replaced
	// ("" when it had none).
	AttrPreviousStatus = "previousStatus"
	// AttrUpdatedAt is when the notifier last wrote the item
	// (eventstore.TimeLayout).
	AttrUpdatedAt = "updatedAt"
	// AttrWorkspaceID is the FastPix workspace (or environment) of the
	// stream, as its latest status transition names it.
	AttrWorkspaceID = "workspaceId"
	// AttrWorkspaceName is the workspace's name, as that transition names
	// it, and AttrTest (BOOL) whether the stream is a test stream: what an
	// alert says of the stream when no event of its own is at hand (a held
	// disconnect decided by its check).
	AttrWorkspaceName = "workspaceName"
	AttrTest          = "test"
	// AttrSimulcastTargets is a map: simulcast target id → a map with
	// status, lastEventId, lastEventType, lastOccurredAt, statusOrder and
	// updatedAt for that target.
	AttrSimulcastTargets = "simulcastTargets"
	// AttrAlerting is what the alert rules remember of the stream
	// (alertrules.Memory as JSON text): when it went live, the held
	// disconnect, the alerted one, the recent brief drops.
	AttrAlerting = "alerting"

	// AttrApplied is the position (eventstore order key) of the newest
	// event of the stream's log applied to this item: the notifier reads
	// the log after it.
	AttrApplied = "applied"
	// AttrRecent (L of M: "id", and "at", the time the event reached us)
	// are the events applied lately (RecentEvent), so that a pass can
	// tell an event it must still apply from one applied before. Items
	// written before receive times were kept hold an L of S of ids.
	AttrRecent = "recent"
	// AttrReadThrough is when the last pass that wrote the item read the
	// log: every event whose write was acknowledged before then, within
	// what that pass read, has been applied.
	AttrReadThrough = "readThrough"
	// AttrRev (N) counts the item's writes. Every write is conditional on
	// the count it was read at, so two notifiers working on one stream at
	// once cannot both apply the same events: the loser reads again.
	AttrRev = "rev"
	// AttrPending is what the applied events decided and has not been
	// confirmed sent (alerts, change-feed messages, checks), as the
	// notifier encodes it; AttrLease and AttrLeaseUntil say which notifier
	// is sending it, until when.
	AttrPending    = "pending"
	AttrLease      = "lease"
	AttrLeaseUntil = "leaseUntil"
)

// RecentEvents is how many applied events the item keeps at most
// (AttrRecent), about 10 KB: only a stream that receives more events than
// this within the notifier's write bound fills it.
const RecentEvents = 128

// Bounds that keep a state item far below DynamoDB's 400 KB item limit.
const (
	// MaxSimulcastTargets is how many simulcast targets one stream's item
	// tracks. A deleted target's entry is removed; a new target beyond the
	// bound is not tracked (ErrTooManyTargets): its events stay in the
	// events table, its alerts are not sent, and the notifier logs and
	// counts it.
	MaxSimulcastTargets = 500
	// MaxTargetFieldBytes bounds a target id, event id and event type kept
	// in a target's entry: 500 entries of at most about 600 bytes.
	MaxTargetFieldBytes = 128
)

var (
	// ErrNotFound: the table holds no state for the stream (no event about
	// it has been applied).
	ErrNotFound = errors.New("streamstate: stream not found")
	// ErrStale: the event is not newer than what the state (or the
	// simulcast target's entry) holds; nothing was written.
	ErrStale = errors.New("streamstate: event older than current state")
	// ErrUnprocessable: the update can never be applied, however often it
	// is retried (DynamoDB refused it as invalid, or it is incomplete or
	// oversized). Callers log, count and skip it; they must not retry it.
	ErrUnprocessable = errors.New("streamstate: update cannot be applied")
	// ErrInvalid: the update lacks a stream id, event id or time, or a
	// target field is longer than MaxTargetFieldBytes. It is
	// ErrUnprocessable too.
	ErrInvalid = errors.New("streamstate: invalid update")
	// ErrTooManyTargets: the stream already tracks MaxSimulcastTargets
	// targets and this is a new one; nothing was written. It is
	// ErrUnprocessable too.
	ErrTooManyTargets = errors.New("streamstate: too many simulcast targets")
)

// Update is one event applied to a stream's state. With SimulcastID set it
// changes only that simulcast target's entry, not the stream itself.
type Update struct {
	StreamID    string
	SimulcastID string
	// Info: the event is not a status transition. It sets the stream's
	// detail attributes and leaves the status alone; a target keeps no
	// detail, so an Info update of a target changes nothing.
	Info bool
	// Status is the status a transition gives.
	Status string
	// Rank orders transitions with the same OccurredAt (the lifecycle's
	// order, fastpix.Change.Rank).
	Rank int
	// Delete: the transition deletes the simulcast target; its entry is
	// removed, so that the item does not grow with every target a stream
	// ever had.
	Delete     bool
	EventID    string
	EventType  string
	OccurredAt string // eventstore.TimeLayout
	// WorkspaceID is the FastPix workspace the event names; a stream's
	// transition keeps it (AttrWorkspaceID) for the fleet listing's filter,
	// with WorkspaceName and Test.
	WorkspaceID   string
	WorkspaceName string
	Test          bool
}

// order is the update's AttrStatusOrder value.
func (u Update) order() string {
	return u.OccurredAt + "/" + fmt.Sprintf("%02d", max(0, min(u.Rank, 99)))
}

// Transition is what an applied update replaced: the status the stream (or
// target) had before, and the one it has now. For an Info update both are
// "" (the status was not touched).
type Transition struct {
	Previous string
	Current  string
	// Repeated: the state already held this very event.
	Repeated bool
}

// Target is the latest known state of one simulcast target.
type Target struct {
	Status         string `json:"status"`
	LastEventID    string `json:"lastEventId"`
	LastEventType  string `json:"lastEventType"`
	LastOccurredAt string `json:"lastOccurredAt"`
	StatusOrder    string `json:"-"`
	UpdatedAt      string `json:"updatedAt"`
}

// State is a stream's current state. Status and the Last* fields are empty
// when no status transition of the stream has been seen (only targets', or
// only other events).
type State struct {
	StreamID         string            `json:"streamId"`
	Status           string            `json:"status,omitempty"`
	LastEventID      string            `json:"lastEventId,omitempty"`
	LastEventType    string            `json:"lastEventType,omitempty"`
	LastOccurredAt   string            `json:"lastOccurredAt,omitempty"`
	StatusOrder      string            `json:"-"`
	PreviousStatus   string            `json:"previousStatus,omitempty"`
	WorkspaceID      string            `json:"workspaceId,omitempty"`
	WorkspaceName    string            `json:"workspaceName,omitempty"`
	Test             bool              `json:"test,omitempty"`
	DetailEventID    string            `json:"detailEventId,omitempty"`
	DetailEventType  string            `json:"detailEventType,omitempty"`
	DetailOccurredAt string            `json:"detailOccurredAt,omitempty"`
	UpdatedAt        string            `json:"updatedAt,omitempty"`
	SimulcastTargets map[string]Target `json:"simulcastTargets"`
	// Alerting is what the alert rules remember of the stream; nil until
	// they have remembered something.
	Alerting *alertrules.Memory `json:"alerting,omitempty"`

	// Applied is the log position of the newest event applied (AttrApplied).
	Applied string `json:"appliedThrough,omitempty"`
	// Recent are the events applied lately, oldest first (AttrRecent).
	Recent []RecentEvent `json:"-"`
	// ReadThrough is when the pass that last wrote the item read the log
	// (AttrReadThrough; "" for an item written before it was kept).
	ReadThrough string `json:"-"`
	// Rev is the item's write count as read (0: no item, or one written
	// before revisions existed).
	Rev int64 `json:"-"`
	// Pending is what is decided and not yet confirmed sent (opaque here:
	// the notifier's encoding), Lease and LeaseUntil who sends it.
	Pending    string `json:"-"`
	Lease      string `json:"-"`
	LeaseUntil string `json:"-"`
}

// Memory is the alert rules' memory of the stream (zero when none).
func (st *State) Memory() alertrules.Memory {
	if st.Alerting == nil {
		return alertrules.Memory{}
	}
	return *st.Alerting
}

// SetMemory keeps m as the alert rules' memory.
func (st *State) SetMemory(m alertrules.Memory) { st.Alerting = &m }

// RecentEvent is an event applied lately: its id and when it reached us
// ("" when kept by a version that did not record it).
type RecentEvent struct {
	ID         string
	ReceivedAt string
}

// MarkApplied records that the event id at log position pos, which
// reached us at receivedAt, was applied.
func (st *State) MarkApplied(pos, id, receivedAt string) {
	if pos > st.Applied {
		st.Applied = pos
	}
	st.Recent = append(st.Recent, RecentEvent{ID: id, ReceivedAt: receivedAt})
	if n := len(st.Recent) - RecentEvents; n > 0 {
		st.Recent = append([]RecentEvent(nil), st.Recent[n:]...)
	}
}

// WasApplied says whether id is among the recently applied events.
func (st *State) WasApplied(id string) bool {
	return slices.ContainsFunc(st.Recent, func(e RecentEvent) bool { return e.ID == id })
}

// ForgetReceivedBefore drops the recently applied events that reached us
// before since, but the last keep: a pass that reads only events received
// after since need not tell them apart.
func (st *State) ForgetReceivedBefore(since string, keep int) {
	old := max(len(st.Recent)-keep, 0)
	st.Recent = slices.Concat(slices.DeleteFunc(st.Recent[:old:old], func(e RecentEvent) bool { return e.ReceivedAt < since }), st.Recent[old:])
}

// RecentFull says whether Recent is at its bound, and if so when the
// oldest event it still holds reached us: an event received before that
// may have been applied and forgotten.
func (st *State) RecentFull() (oldest string, full bool) {
	if len(st.Recent) < RecentEvents {
		return "", false
	}
	return st.Recent[0].ReceivedAt, true
}

// Reader reads a stream's state.
type Reader interface {
	Get(ctx context.Context, streamID string) (State, error)
}

// API is the part of the DynamoDB client the store uses.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// ErrConflict: the item was written by someone else since it was read;
// read it again and redo the work.
var ErrConflict = errors.New("streamstate: state changed since it was read")

// Store is the state table in DynamoDB. A stream's item is read whole
// (Load) and written whole (Save), conditionally on its revision: one
// writer at a time moves a stream, whatever runs at once.
type Store struct {
	Client API
	Table  string
	// Now is the clock for updatedAt (time.Now when nil).
	Now func() time.Time
}

var _ Reader = (*Store)(nil)

func (s *Store) now() string {
	if s.Now != nil {
		return eventstore.FormatTime(s.Now())
	}
	return eventstore.FormatTime(time.Now())
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func (s *Store) key(streamID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{KeyStreamID: str(streamID)}
}

// failed sorts a failed request: a validation error (an item over 400 KB, a
// malformed value) will fail the same way on every retry.
func failed(err error, what string) error {
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "ValidationException" {
		return fmt.Errorf("%w: %s: %w", ErrUnprocessable, what, err)
	}
	return fmt.Errorf("streamstate: %s: %w", what, err)
}

// Load reads the stream's item with a strongly consistent read. A stream
// with no item yet is an empty state at revision 0, not an error. An item
// written before the log position existed gets the position of the newest
// event it shows, so that the log is applied from there on, not again
// from its beginning.
func (s *Store) Load(ctx context.Context, streamID string) (State, error) {
	item, err := s.read(ctx, streamID)
	if err != nil {
		return State{}, err
	}
	if len(item) == 0 {
		return State{StreamID: streamID, SimulcastTargets: map[string]Target{}}, nil
	}
	st := StateFromItem(item)
	if st.Applied == "" {
		st.Applied = st.legacyApplied()
	}
	return st, nil
}

// legacyApplied is the newest position an item without AttrApplied shows:
// its status transition's, or a target's, as statusOrder + "/" + event id.
func (st *State) legacyApplied() string {
	pos := func(order, id string) string {
		if order == "" {
			return ""
		}
		return order + "/" + id
	}
	newest := pos(st.StatusOrder, st.LastEventID)
	for _, t := range st.SimulcastTargets {
		newest = max(newest, pos(t.StatusOrder, t.LastEventID))
	}
	return newest
}

// Save writes st whole when the item is still at st.Rev, and moves st.Rev
// on; otherwise it returns ErrConflict and writes nothing.
func (s *Store) Save(ctx context.Context, st *State) error {
	if st.StreamID == "" {
		return fmt.Errorf("%w: %w: a state without a stream id", ErrInvalid, ErrUnprocessable)
	}
	st.UpdatedAt = s.now()
	item, err := st.item(st.Rev + 1)
	if err != nil {
		return err
	}
	in := &dynamodb.PutItemInput{
		TableName:                aws.String(s.Table),
		Item:                     item,
		ExpressionAttributeNames: map[string]string{"#rev": AttrRev},
	}
	if st.Rev == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(#rev)")
	} else {
		in.ConditionExpression = aws.String("#rev = :rev")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":rev": &types.AttributeValueMemberN{Value: strconv.FormatInt(st.Rev, 10)}}
	}
	_, err = s.Client.PutItem(ctx, in)
	if err == nil {
		st.Rev++
		return nil
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("%w: stream %s at revision %d", ErrConflict, st.StreamID, st.Rev)
	}
	return failed(err, fmt.Sprintf("write stream %s to %s", st.StreamID, s.Table))
}

// Apply applies one update by reading the stream's item, applying u to it
// in memory (State.Apply) and saving it, again from a fresh read when
// another writer came first. The notifier applies whole runs of a stream's
// log this way in one write; Apply is the one-event form, for tools and
// tests.
func (s *Store) Apply(ctx context.Context, u Update) (Transition, error) {
	if err := u.check(); err != nil {
		return Transition{}, err
	}
	for {
		st, err := s.Load(ctx, u.StreamID)
		if err != nil {
			return Transition{}, err
		}
		tr, err := st.Apply(u)
		if err != nil {
			return tr, err
		}
		switch err := s.Save(ctx, &st); {
		case err == nil:
			return tr, nil
		case !errors.Is(err, ErrConflict):
			return Transition{}, err
		}
		if err := ctx.Err(); err != nil {
			return Transition{}, err
		}
	}
}

// Get returns the stream's current state with a strongly consistent read, or
// ErrNotFound. It is what the query API shows.
func (s *Store) Get(ctx context.Context, streamID string) (State, error) {
	item, err := s.read(ctx, streamID)
	if err != nil {
		return State{}, err
	}
	if len(item) == 0 {
		return State{}, fmt.Errorf("%w: %s", ErrNotFound, streamID)
	}
	return StateFromItem(item), nil
}

// read is the stream's item by a strongly consistent read (the notifier
// must see its own last write), or no item.
func (s *Store) read(ctx context.Context, streamID string) (map[string]types.AttributeValue, error) {
	out, err := s.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.Table),
		Key:            s.key(streamID),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, failed(err, fmt.Sprintf("read stream %s from %s", streamID, s.Table))
	}
	return out.Item, nil
}

// item is st as the table's item at revision rev. Empty attributes are
// left out: the byStatus index is sparse on AttrStatus.
func (st *State) item(rev int64) (map[string]types.AttributeValue, error) {
	item := map[string]types.AttributeValue{
		KeyStreamID: str(st.StreamID),
		AttrRev:     &types.AttributeValueMemberN{Value: strconv.FormatInt(rev, 10)},
	}
	put := func(name, v string) {
		if v != "" {
			item[name] = str(v)
		}
	}
	put(AttrStatus, st.Status)
	put(AttrLastEventID, st.LastEventID)
	put(AttrLastEventType, st.LastEventType)
	put(AttrLastOccurredAt, st.LastOccurredAt)
	put(AttrStatusOrder, st.StatusOrder)
	if st.Status != "" {
		// "" is a real previous status (none), kept as such.
		item[AttrPreviousStatus] = str(st.PreviousStatus)
	}
	put(AttrWorkspaceID, st.WorkspaceID)
	put(AttrWorkspaceName, st.WorkspaceName)
	if st.Test {
		item[AttrTest] = &types.AttributeValueMemberBOOL{Value: true}
	}
	put(AttrDetailEventID, st.DetailEventID)
	put(AttrDetailEventType, st.DetailEventType)
	put(AttrDetailOccurredAt, st.DetailOccurredAt)
	put(AttrUpdatedAt, st.UpdatedAt)
	put(AttrApplied, st.Applied)
	put(AttrReadThrough, st.ReadThrough)
	put(AttrPending, st.Pending)
	put(AttrLease, st.Lease)
	put(AttrLeaseUntil, st.LeaseUntil)
	targets := make(map[string]types.AttributeValue, len(st.SimulcastTargets))
	for id, t := range st.SimulcastTargets {
		e := map[string]types.AttributeValue{}
		for name, v := range map[string]string{AttrStatus: t.Status, AttrLastEventID: t.LastEventID, AttrLastEventType: t.LastEventType,
			AttrLastOccurredAt: t.LastOccurredAt, AttrStatusOrder: t.StatusOrder, AttrUpdatedAt: t.UpdatedAt} {
			if v != "" {
				e[name] = str(v)
			}
		}
		targets[id] = &types.AttributeValueMemberM{Value: e}
	}
	item[AttrSimulcastTargets] = &types.AttributeValueMemberM{Value: targets}
	if len(st.Recent) > 0 {
		l := make([]types.AttributeValue, len(st.Recent))
		for i, e := range st.Recent {
			m := map[string]types.AttributeValue{"id": str(e.ID)}
			if e.ReceivedAt != "" {
				m["at"] = str(e.ReceivedAt)
			}
			l[i] = &types.AttributeValueMemberM{Value: m}
		}
		item[AttrRecent] = &types.AttributeValueMemberL{Value: l}
	}
	if st.Alerting != nil {
		text, err := json.Marshal(st.Alerting)
		if err != nil {
			return nil, fmt.Errorf("%w: encode the alert rules' memory of stream %s: %w", ErrUnprocessable, st.StreamID, err)
		}
		item[AttrAlerting] = str(string(text))
	}
	return item, nil
}

// StateFromItem reads a state item; attributes of unexpected types are
// treated as absent. An alert rules' memory that cannot be read (written
// by a later version, or damaged) is taken as empty: forgetting a held
// disconnect costs one alert, while failing on it would stop the stream's
// alerts for good.
func StateFromItem(item map[string]types.AttributeValue) State {
	st := State{
		StreamID:         ddbitem.String(item, KeyStreamID),
		Status:           ddbitem.String(item, AttrStatus),
		LastEventID:      ddbitem.String(item, AttrLastEventID),
		LastEventType:    ddbitem.String(item, AttrLastEventType),
		LastOccurredAt:   ddbitem.String(item, AttrLastOccurredAt),
		StatusOrder:      ddbitem.String(item, AttrStatusOrder),
		PreviousStatus:   ddbitem.String(item, AttrPreviousStatus),
		WorkspaceID:      ddbitem.String(item, AttrWorkspaceID),
		WorkspaceName:    ddbitem.String(item, AttrWorkspaceName),
		DetailEventID:    ddbitem.String(item, AttrDetailEventID),
		DetailEventType:  ddbitem.String(item, AttrDetailEventType),
		DetailOccurredAt: ddbitem.String(item, AttrDetailOccurredAt),
		UpdatedAt:        ddbitem.String(item, AttrUpdatedAt),
		Applied:          ddbitem.String(item, AttrApplied),
		ReadThrough:      ddbitem.String(item, AttrReadThrough),
		Pending:          ddbitem.String(item, AttrPending),
		Lease:            ddbitem.String(item, AttrLease),
		LeaseUntil:       ddbitem.String(item, AttrLeaseUntil),
		SimulcastTargets: map[string]Target{},
	}
	if b, ok := item[AttrTest].(*types.AttributeValueMemberBOOL); ok {
		st.Test = b.Value
	}
	if n, ok := item[AttrRev].(*types.AttributeValueMemberN); ok {
		st.Rev, _ = strconv.ParseInt(n.Value, 10, 64)
	}
	if l, ok := item[AttrRecent].(*types.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			switch v := v.(type) {
			case *types.AttributeValueMemberM:
				if id := ddbitem.String(v.Value, "id"); id != "" {
					st.Recent = append(st.Recent, RecentEvent{ID: id, ReceivedAt: ddbitem.String(v.Value, "at")})
				}
			case *types.AttributeValueMemberS:
				st.Recent = append(st.Recent, RecentEvent{ID: v.Value})
			}
		}
	}
	if text := ddbitem.String(item, AttrAlerting); text != "" {
		var m alertrules.Memory
		if err := json.Unmarshal([]byte(text), &m); err == nil {
			st.Alerting = &m
		} else {
			st.Alerting = &alertrules.Memory{}
		}
	}
	if m, ok := item[AttrSimulcastTargets].(*types.AttributeValueMemberM); ok {
		for id, v := range m.Value {
			e, ok := v.(*types.AttributeValueMemberM)
			if !ok {
				continue
			}
			st.SimulcastTargets[id] = Target{
				Status:         ddbitem.String(e.Value, AttrStatus),
				LastEventID:    ddbitem.String(e.Value, AttrLastEventID),
				LastEventType:  ddbitem.String(e.Value, AttrLastEventType),
				LastOccurredAt: ddbitem.String(e.Value, AttrLastOccurredAt),
				StatusOrder:    ddbitem.String(e.Value, AttrStatusOrder),
				UpdatedAt:      ddbitem.String(e.Value, AttrUpdatedAt),
			}
		}
	}
	return st
}
