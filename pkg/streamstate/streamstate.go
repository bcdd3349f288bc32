// Package streamstate keeps the live view of each stream: its current
// status, the status transition that set it, the newest event about it that
// is not a transition, and the status of each of its simulcast targets, one
// DynamoDB item per stream.
//
// Events arrive late, twice and out of order, so every change is one
// conditional write that only moves the state forward. A status is moved
// only by status transitions, ordered by occurredAt, then by the
// lifecycle's own order (a disconnect after the active it ends), then by
// event id; other events about the stream (recording, updated) are kept
// apart, in the detail attributes, ordered among themselves, so that they
// never make a transition stale nor are made stale by one. Applying the
// very same event again succeeds, so a retried batch whose publish failed
// the first time is published on the retry.
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
	"errors"
	"fmt"
	"maps"
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
	// ("" when it had none), and AttrPreviousEventID and
	// AttrPreviousOccurredAt the transition that had set it: what a retried
	// record's transition replaced the first time.
	AttrPreviousStatus     = "previousStatus"
	AttrPreviousEventID    = "previousEventId"
	AttrPreviousOccurredAt = "previousOccurredAt"
	// AttrUpdatedAt is when the notifier last wrote the item
	// (eventstore.TimeLayout).
	AttrUpdatedAt = "updatedAt"
	// AttrWorkspaceID is the FastPix workspace (or environment) of the
	// stream, as its latest status transition names it.
	AttrWorkspaceID = "workspaceId"
	// AttrSimulcastTargets is a map: simulcast target id → a map with
	// status, lastEventId, lastEventType, lastOccurredAt, statusOrder and
	// updatedAt for that target.
	AttrSimulcastTargets = "simulcastTargets"
)

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
	// transition keeps it (AttrWorkspaceID) for the fleet listing's filter.
	WorkspaceID string
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
	// Repeated: the state already held this very event (a record processed
	// again after a failure). For a stream, Previous is still what the
	// event replaced the first time (the item keeps it); a target's entry
	// keeps no such thing, so for a target Previous is then the status the
	// event itself set.
	Repeated bool
	// Rules is the alert rules' memory the stream's item held, and Targets
	// its simulcast targets (a stream's own transition only): the item comes
	// back whole with the write, so the notifier decides without a read.
	Rules   Rules
	Targets map[string]Target
	// ReplacedEventID and ReplacedAt are the status transition the write
	// replaced (its event id and the time it was ordered by): when the
	// rules' memory has not heard of it, its decision was never stored (it
	// was processed at the same time), and the rules decide it first.
	ReplacedEventID, ReplacedAt string
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
	StreamID         string `json:"streamId"`
	Status           string `json:"status,omitempty"`
	LastEventID      string `json:"lastEventId,omitempty"`
	LastEventType    string `json:"lastEventType,omitempty"`
	LastOccurredAt   string `json:"lastOccurredAt,omitempty"`
	StatusOrder      string `json:"-"`
	PreviousStatus   string `json:"previousStatus,omitempty"`
	previousEventID  string
	previousAt       string
	WorkspaceID      string            `json:"workspaceId,omitempty"`
	DetailEventID    string            `json:"detailEventId,omitempty"`
	DetailEventType  string            `json:"detailEventType,omitempty"`
	DetailOccurredAt string            `json:"detailOccurredAt,omitempty"`
	UpdatedAt        string            `json:"updatedAt,omitempty"`
	SimulcastTargets map[string]Target `json:"simulcastTargets"`
	// Alerting is what the alert rules remember of the stream (when it went
	// live, a held disconnect, the alerted one, recent brief drops); absent
	// until they have decided something.
	Alerting *alertrules.Memory `json:"alerting,omitempty"`
	rules    Rules
}

// Applier moves a stream's state forward. Apply returns what the update
// replaced; ErrStale when it is older than the state; ErrUnprocessable
// (wrapped) when no retry can ever apply it; any other error is worth a
// retry.
type Applier interface {
	Apply(ctx context.Context, u Update) (Transition, error)
}

// Reader reads a stream's state.
type Reader interface {
	Get(ctx context.Context, streamID string) (State, error)
}

// API is the part of the DynamoDB client the store uses.
type API interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// Store is the state table in DynamoDB.
type Store struct {
	Client API
	Table  string
	// Now is the clock for updatedAt (time.Now when nil).
	Now func() time.Time
}

var (
	_ Applier = (*Store)(nil)
	_ Reader  = (*Store)(nil)
)

// statusNewer is the "only forward" rule of a status, on the item itself
// or on a target's entry (prefix "#targets.#tid."). Equal order and equal
// id is the same event again, which passes when sameOK: re-applying is
// harmless and lets a retry publish. An item written before statusOrder
// existed is judged by its lastOccurredAt and lastEventId.
func statusNewer(prefix string, sameOK bool) string {
	so, t, id := prefix+"#statusOrder", prefix+"#lastOccurredAt", prefix+"#lastEventId"
	idCmp := " < :id)"
	if sameOK {
		idCmp = " <= :id)"
	}
	legacy := "attribute_not_exists(" + t + ") OR " + t + " < :t OR (" + t + " = :t AND " + id + idCmp
	return "(attribute_not_exists(" + so + ") AND (" + legacy + ")) OR " + so + " < :o OR (" + so + " = :o AND " + id + idCmp
}

var (
	// The stream's own updates also make sure the targets map exists
	// (empty), so that the targets' updates of a stream whose events came in
	// order take one request each: a map path can only be set inside a map
	// that exists.
	//
	// The status it replaces is kept (previousStatus), and the same event
	// again fails the condition instead of writing: the old item that comes
	// back with the failure still says what the event replaced the first
	// time, so a retried record is told with the right previous status.
	streamUpdate = "SET #previousStatus = if_not_exists(#status, :none), #previousEventId = if_not_exists(#lastEventId, :none), " +
		"#previousOccurredAt = if_not_exists(#lastOccurredAt, :none), #status = :status, #lastEventId = :id, " +
		"#lastEventType = :type, #lastOccurredAt = :t, #statusOrder = :o, #updatedAt = :now, #targets = if_not_exists(#targets, :empty)"
	streamCondition = statusNewer("", false)

	detailUpdate = "SET #detailEventId = :id, #detailEventType = :type, #detailOccurredAt = :t, " +
		"#updatedAt = :now, #targets = if_not_exists(#targets, :empty)"
	detailCondition = "attribute_not_exists(#detailOccurredAt) OR #detailOccurredAt < :t OR " +
		"(#detailOccurredAt = :t AND #detailEventId <= :id)"

	// A target's entry is set when it is older than the update, or, for a
	// target not tracked yet, while the map holds fewer than
	// MaxSimulcastTargets entries.
	targetUpdate    = "SET #targets.#tid = :entry"
	targetCondition = "attribute_exists(#targets) AND ((attribute_exists(#targets.#tid) AND (" +
		statusNewer("#targets.#tid.", true) + ")) OR (attribute_not_exists(#targets.#tid) AND size(#targets) < :max))"
	// A deletion removes the entry (there may be none).
	targetDelete          = "REMOVE #targets.#tid"
	targetDeleteCondition = "attribute_exists(#targets) AND (attribute_not_exists(#targets.#tid) OR " +
		statusNewer("#targets.#tid.", true) + ")"

	targetsCreate          = "SET #targets = :targets"
	targetsCreateCondition = "attribute_not_exists(#targets)"

	names = map[string]string{
		"#previousStatus":     AttrPreviousStatus,
		"#previousEventId":    AttrPreviousEventID,
		"#previousOccurredAt": AttrPreviousOccurredAt,
		"#status":             AttrStatus,
		"#lastEventId":        AttrLastEventID,
		"#lastEventType":      AttrLastEventType,
		"#lastOccurredAt":     AttrLastOccurredAt,
		"#statusOrder":        AttrStatusOrder,
		"#updatedAt":          AttrUpdatedAt,
		"#targets":            AttrSimulcastTargets,
	}
	detailNames = map[string]string{
		"#detailEventId":    AttrDetailEventID,
		"#detailEventType":  AttrDetailEventType,
		"#detailOccurredAt": AttrDetailOccurredAt,
		"#updatedAt":        AttrUpdatedAt,
		"#targets":          AttrSimulcastTargets,
	}
)

// check refuses an update that no retry could apply, before any request.
func (u Update) check() error {
	if u.StreamID == "" || u.EventID == "" || u.OccurredAt == "" {
		return fmt.Errorf("%w: %w: stream %.64q, event %.64q, occurredAt %.64q", ErrInvalid, ErrUnprocessable, u.StreamID, u.EventID, u.OccurredAt)
	}
	if u.SimulcastID != "" {
		for name, v := range map[string]string{"simulcast target id": u.SimulcastID, "event id": u.EventID, "event type": u.EventType} {
			if len(v) > MaxTargetFieldBytes {
				return fmt.Errorf("%w: %w: %s is %d bytes, at most %d are kept", ErrInvalid, ErrUnprocessable, name, len(v), MaxTargetFieldBytes)
			}
		}
	}
	return nil
}

// Apply applies u with one conditional UpdateItem. A simulcast target update
// whose condition fails reads that target's entry (a GetItem projecting it)
// to tell "stale" from "not tracked": a stream with no item yet (a target
// event before any event of the stream itself) then gets its targets map
// created with a condition that it still does not exist, and a stream
// already tracking MaxSimulcastTargets others answers ErrTooManyTargets.
func (s *Store) Apply(ctx context.Context, u Update) (Transition, error) {
	if err := u.check(); err != nil {
		return Transition{}, err
	}
	switch {
	case u.SimulcastID == "" && u.Info:
		return Transition{}, s.applyDetail(ctx, u)
	case u.SimulcastID == "":
		return s.applyStream(ctx, u)
	case u.Info:
		return Transition{}, nil
	}
	return s.applyTarget(ctx, u)
}

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
// malformed expression value) will fail the same way on every retry.
func failed(err error, what string) error {
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "ValidationException" {
		return fmt.Errorf("%w: %s: %w", ErrUnprocessable, what, err)
	}
	return fmt.Errorf("streamstate: %s: %w", what, err)
}

func (s *Store) applyStream(ctx context.Context, u Update) (Transition, error) {
	update, anames := streamUpdate, names
	values := map[string]types.AttributeValue{
		":status": str(u.Status),
		":id":     str(u.EventID),
		":type":   str(u.EventType),
		":t":      str(u.OccurredAt),
		":o":      str(u.order()),
		":now":    str(s.now()),
		":empty":  &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
		":none":   str(""),
	}
	if u.WorkspaceID != "" {
		// An event that names no workspace leaves the one known.
		update += ", #workspaceId = :ws"
		anames = maps.Clone(names)
		anames["#workspaceId"] = AttrWorkspaceID
		values[":ws"] = str(u.WorkspaceID)
	}
	out, err := s.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       s.key(u.StreamID),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(streamCondition),
		ExpressionAttributeNames:  anames,
		ExpressionAttributeValues: values,
		// The old item comes back with the write: the transition, the
		// alert rules' memory and the targets are known without a read.
		ReturnValues: types.ReturnValueAllOld,
		// On a failed condition, the old item tells the same event again
		// from a stale one.
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		old := StateFromItem(out.Attributes)
		return Transition{
			Previous: old.Status, Current: u.Status, Rules: old.rules, Targets: old.SimulcastTargets,
			ReplacedEventID: old.LastEventID, ReplacedAt: old.LastOccurredAt,
		}, nil
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if sameEvent(ddbitem.String(ccf.Item, AttrStatusOrder), ddbitem.String(ccf.Item, AttrLastOccurredAt), ddbitem.String(ccf.Item, AttrLastEventID), u) {
			old := StateFromItem(ccf.Item)
			return Transition{
				Previous: old.PreviousStatus, Current: old.Status, Repeated: true, Rules: old.rules, Targets: old.SimulcastTargets,
				ReplacedEventID: old.previousEventID, ReplacedAt: old.previousAt,
			}, nil
		}
		return Transition{}, fmt.Errorf("%w: stream %s, event %s at %s", ErrStale, u.StreamID, u.EventID, u.OccurredAt)
	}
	return Transition{}, failed(err, fmt.Sprintf("update stream %s with event %s in %s", u.StreamID, u.EventID, s.Table))
}

func (s *Store) applyDetail(ctx context.Context, u Update) error {
	_, err := s.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.Table),
		Key:                      s.key(u.StreamID),
		UpdateExpression:         aws.String(detailUpdate),
		ConditionExpression:      aws.String(detailCondition),
		ExpressionAttributeNames: detailNames,
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":id":    str(u.EventID),
			":type":  str(u.EventType),
			":t":     str(u.OccurredAt),
			":now":   str(s.now()),
			":empty": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
		},
	})
	if err == nil {
		return nil
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("%w: stream %s, event %s at %s", ErrStale, u.StreamID, u.EventID, u.OccurredAt)
	}
	return failed(err, fmt.Sprintf("update stream %s with event %s in %s", u.StreamID, u.EventID, s.Table))
}

func (s *Store) targetEntry(u Update) *types.AttributeValueMemberM {
	return &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
		AttrStatus:         str(u.Status),
		AttrLastEventID:    str(u.EventID),
		AttrLastEventType:  str(u.EventType),
		AttrLastOccurredAt: str(u.OccurredAt),
		AttrStatusOrder:    str(u.order()),
		AttrUpdatedAt:      str(s.now()),
	}}
}

// targetTransition reads a target's previous status, and whether it was
// this very event, out of UpdateItem's old attributes.
func targetTransition(attrs map[string]types.AttributeValue, u Update) Transition {
	tr := Transition{Current: u.Status}
	m, ok := attrs[AttrSimulcastTargets].(*types.AttributeValueMemberM)
	if !ok {
		return tr
	}
	e, ok := m.Value[u.SimulcastID].(*types.AttributeValueMemberM)
	if !ok {
		return tr
	}
	tr.Previous = ddbitem.String(e.Value, AttrStatus)
	tr.Repeated = ddbitem.String(e.Value, AttrLastEventID) == u.EventID
	return tr
}

func (s *Store) applyTarget(ctx context.Context, u Update) (Transition, error) {
	entry := s.targetEntry(u)
	tnames := map[string]string{
		"#targets":        AttrSimulcastTargets,
		"#tid":            u.SimulcastID,
		"#lastEventId":    AttrLastEventID,
		"#lastOccurredAt": AttrLastOccurredAt,
		"#statusOrder":    AttrStatusOrder,
	}
	values := map[string]types.AttributeValue{
		":id": str(u.EventID),
		":t":  str(u.OccurredAt),
		":o":  str(u.order()),
	}
	update, condition := targetUpdate, targetCondition
	if u.Delete {
		update, condition = targetDelete, targetDeleteCondition
	} else {
		values[":entry"] = entry
		values[":max"] = &types.AttributeValueMemberN{Value: strconv.Itoa(MaxSimulcastTargets)}
	}
	what := fmt.Sprintf("update simulcast target %s of stream %s with event %s in %s", u.SimulcastID, u.StreamID, u.EventID, s.Table)
	// Two attempts at most: a lost race to create the map, or an item made
	// between the update and the read, sends us back to the entry update
	// once.
	for attempt := range 2 {
		out, err := s.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 s.tablePtr(),
			Key:                       s.key(u.StreamID),
			UpdateExpression:          aws.String(update),
			ConditionExpression:       aws.String(condition),
			ExpressionAttributeNames:  tnames,
			ExpressionAttributeValues: values,
			// The old entry comes back with the write: the transition is
			// known without a read.
			ReturnValues: types.ReturnValueUpdatedOld,
		})
		if err == nil {
			return targetTransition(out.Attributes, u), nil
		}
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return Transition{}, failed(err, what)
		}
		// Why the condition failed is read from this target's entry alone
		// (not the whole item, which holds hundreds of targets): every
		// write but a deletion creates the item with its targets map, so
		// an item without the entry has a full map. But the read comes
		// after the update: the stream's other events run side by side
		// (batches of one shard at once, and a stream's events hash to
		// different ones), and one of them may have made the item, or
		// this entry, in between. Then what the read shows does not
		// explain the failure, and the update is tried once more.
		exists, held, tracked, err := s.readTargetEntry(ctx, u)
		explained := !tracked || !statusBefore(held.StatusOrder, held.LastOccurredAt, held.LastEventID, u)
		switch {
		case err != nil:
			return Transition{}, failed(err, what)
		case !explained, attempt == 0 && exists && !tracked && !u.Delete:
			continue
		case tracked:
			return Transition{}, fmt.Errorf("%w: simulcast target %s of stream %s, event %s at %s",
				ErrStale, u.SimulcastID, u.StreamID, u.EventID, u.OccurredAt)
		case u.Delete:
			// Not tracked: nothing to remove.
			return Transition{Current: u.Status}, nil
		case exists:
			return Transition{}, fmt.Errorf("%w: %w: stream %s tracks %d targets; target %s (event %s) is not kept",
				ErrTooManyTargets, ErrUnprocessable, u.StreamID, MaxSimulcastTargets, u.SimulcastID, u.EventID)
		}
		_, err = s.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                s.tablePtr(),
			Key:                      s.key(u.StreamID),
			UpdateExpression:         aws.String(targetsCreate),
			ConditionExpression:      aws.String(targetsCreateCondition),
			ExpressionAttributeNames: map[string]string{"#targets": AttrSimulcastTargets},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":targets": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{u.SimulcastID: entry}},
			},
		})
		if err == nil {
			return Transition{Current: u.Status}, nil
		}
		if !errors.As(err, &ccf) {
			return Transition{}, failed(err, fmt.Sprintf("create simulcast targets of stream %s for event %s in %s", u.StreamID, u.EventID, s.Table))
		}
	}
	return Transition{}, fmt.Errorf("streamstate: simulcast targets of stream %s keep changing under event %s; retry", u.StreamID, u.EventID)
}

// readTargetEntry reads whether the stream's item exists and holds u's target,
// and that target's entry, projecting that one entry.
func (s *Store) readTargetEntry(ctx context.Context, u Update) (item bool, entry Target, tracked bool, err error) {
	out, err := s.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                s.tablePtr(),
		Key:                      s.key(u.StreamID),
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#k, #targets.#tid"),
		ExpressionAttributeNames: map[string]string{"#k": KeyStreamID, "#targets": AttrSimulcastTargets, "#tid": u.SimulcastID},
	})
	if err != nil {
		return false, Target{}, false, err
	}
	if len(out.Item) == 0 {
		return false, Target{}, false, nil
	}
	entry, tracked = StateFromItem(out.Item).SimulcastTargets[u.SimulcastID]
	return true, entry, tracked, nil
}

func (s *Store) tablePtr() *string { return aws.String(s.Table) }

// Get returns the stream's current state with a strongly consistent read, or
// ErrNotFound. It is what the query API shows.
func (s *Store) Get(ctx context.Context, streamID string) (State, error) {
	out, err := s.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      s.tablePtr(),
		Key:            s.key(streamID),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return State{}, fmt.Errorf("streamstate: get stream %s from %s: %w", streamID, s.Table, err)
	}
	if len(out.Item) == 0 {
		return State{}, fmt.Errorf("%w: %s", ErrNotFound, streamID)
	}
	return StateFromItem(out.Item), nil
}

// StateFromItem reads a state item; attributes of unexpected types are
// treated as absent.
func StateFromItem(item map[string]types.AttributeValue) State {
	st := State{
		StreamID:         ddbitem.String(item, KeyStreamID),
		Status:           ddbitem.String(item, AttrStatus),
		LastEventID:      ddbitem.String(item, AttrLastEventID),
		LastEventType:    ddbitem.String(item, AttrLastEventType),
		LastOccurredAt:   ddbitem.String(item, AttrLastOccurredAt),
		StatusOrder:      ddbitem.String(item, AttrStatusOrder),
		PreviousStatus:   ddbitem.String(item, AttrPreviousStatus),
		previousEventID:  ddbitem.String(item, AttrPreviousEventID),
		previousAt:       ddbitem.String(item, AttrPreviousOccurredAt),
		WorkspaceID:      ddbitem.String(item, AttrWorkspaceID),
		DetailEventID:    ddbitem.String(item, AttrDetailEventID),
		DetailEventType:  ddbitem.String(item, AttrDetailEventType),
		DetailOccurredAt: ddbitem.String(item, AttrDetailOccurredAt),
		UpdatedAt:        ddbitem.String(item, AttrUpdatedAt),
		SimulcastTargets: map[string]Target{},
		rules:            RulesFromItem(item),
	}
	if _, ok := item[AttrAlerting]; ok {
		st.Alerting = &st.rules.Memory
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
