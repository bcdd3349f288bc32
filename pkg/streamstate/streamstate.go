// Package streamstate keeps the live view of each stream: its current
// status, the last event that set it, and the latest status of each of its
// simulcast targets, one DynamoDB item per stream.
//
// Events arrive late, twice and out of order, so every change is one
// conditional write that only moves the state forward: an event is applied
// when it is newer (by occurredAt, ties broken by event id) than the one the
// state holds. Applying the very same event again succeeds, so a retried
// batch whose publish failed the first time is published on the retry.
//
// The table's shape is declared here once; template.yaml's
// StreamStateTable is checked against it.
package streamstate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/internal/ddbitem"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
)

// The stream state table's schema.
const (
	// KeyStreamID is the partition key (S): the FastPix live stream id.
	KeyStreamID = "streamId"

	// AttrStatus is the stream's current status, e.g. "active".
	AttrStatus = "status"
	// AttrLastEventID, AttrLastEventType and AttrLastOccurredAt describe the
	// event that set the status; AttrLastOccurredAt is in
	// eventstore.TimeLayout, so text order is time order.
	AttrLastEventID    = "lastEventId"
	AttrLastEventType  = "lastEventType"
	AttrLastOccurredAt = "lastOccurredAt"
	// AttrUpdatedAt is when the notifier last wrote the item
	// (eventstore.TimeLayout).
	AttrUpdatedAt = "updatedAt"
	// AttrSimulcastTargets is a map: simulcast target id → a map with the
	// same five attributes (status, lastEventId, lastEventType,
	// lastOccurredAt, updatedAt) for that target.
	AttrSimulcastTargets = "simulcastTargets"
)

var (
	// ErrNotFound: the table holds no state for the stream (no event about
	// it has been applied).
	ErrNotFound = errors.New("streamstate: stream not found")
	// ErrStale: the event is not newer than what the state (or the
	// simulcast target's entry) holds; nothing was written.
	ErrStale = errors.New("streamstate: event older than current state")
	// ErrInvalid: the update lacks a stream id, event id or time.
	ErrInvalid = errors.New("streamstate: invalid update")
)

// Update is one event applied to a stream's state. With SimulcastID set it
// changes only that simulcast target's entry, not the stream's own status.
type Update struct {
	StreamID    string
	SimulcastID string
	Status      string
	EventID     string
	EventType   string
	OccurredAt  string // eventstore.TimeLayout
}

// Target is the latest known state of one simulcast target.
type Target struct {
	Status         string `json:"status"`
	LastEventID    string `json:"lastEventId"`
	LastEventType  string `json:"lastEventType"`
	LastOccurredAt string `json:"lastOccurredAt"`
	UpdatedAt      string `json:"updatedAt"`
}

// State is a stream's current state. Status and the Last* fields are empty
// when only simulcast target events have been seen for the stream.
type State struct {
	StreamID         string            `json:"streamId"`
	Status           string            `json:"status,omitempty"`
	LastEventID      string            `json:"lastEventId,omitempty"`
	LastEventType    string            `json:"lastEventType,omitempty"`
	LastOccurredAt   string            `json:"lastOccurredAt,omitempty"`
	UpdatedAt        string            `json:"updatedAt,omitempty"`
	SimulcastTargets map[string]Target `json:"simulcastTargets"`
}

// Applier moves a stream's state forward. Apply returns ErrStale when the
// update is older than the state; any other error is worth a retry.
type Applier interface {
	Apply(ctx context.Context, u Update) error
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

// newer is the "only forward" rule, on the item itself or on a target's
// entry (prefix "#targets.#tid."). Equal time and equal id is the same event
// again, which passes: re-applying is harmless and lets a retry publish.
func newer(prefix string) string {
	t, id := prefix+"#lastOccurredAt", prefix+"#lastEventId"
	return "attribute_not_exists(" + t + ") OR " + t + " < :t OR (" + t + " = :t AND " + id + " <= :id)"
}

var (
	// The stream's own update also makes sure the targets map exists (empty),
	// so that the targets' updates of a stream whose events came in order
	// take one request each: a map path can only be set inside a map that
	// exists.
	streamUpdate = "SET #status = :status, #lastEventId = :id, #lastEventType = :type, " +
		"#lastOccurredAt = :t, #updatedAt = :now, #targets = if_not_exists(#targets, :empty)"
	streamCondition = newer("")

	targetUpdate    = "SET #targets.#tid = :entry"
	targetCondition = "attribute_exists(#targets) AND (" + newer("#targets.#tid.") + ")"

	targetsCreate          = "SET #targets = :targets"
	targetsCreateCondition = "attribute_not_exists(#targets)"

	names = map[string]string{
		"#status":         AttrStatus,
		"#lastEventId":    AttrLastEventID,
		"#lastEventType":  AttrLastEventType,
		"#lastOccurredAt": AttrLastOccurredAt,
		"#updatedAt":      AttrUpdatedAt,
		"#targets":        AttrSimulcastTargets,
	}
)

// Apply applies u with one conditional UpdateItem. A simulcast target update
// takes a second request only for the first target of a stream whose item
// has no targets map yet (a target event that came before any event of the
// stream itself): the map is then created with a condition that it still
// does not exist.
func (s *Store) Apply(ctx context.Context, u Update) error {
	if u.StreamID == "" || u.EventID == "" || u.OccurredAt == "" {
		return fmt.Errorf("%w: stream %q, event %q, occurredAt %q", ErrInvalid, u.StreamID, u.EventID, u.OccurredAt)
	}
	if u.SimulcastID == "" {
		return s.applyStream(ctx, u)
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

func (s *Store) applyStream(ctx context.Context, u Update) error {
	_, err := s.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.Table),
		Key:                      s.key(u.StreamID),
		UpdateExpression:         aws.String(streamUpdate),
		ConditionExpression:      aws.String(streamCondition),
		ExpressionAttributeNames: names,
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":status": str(u.Status),
			":id":     str(u.EventID),
			":type":   str(u.EventType),
			":t":      str(u.OccurredAt),
			":now":    str(s.now()),
			":empty":  &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
		},
	})
	if err == nil {
		return nil
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("%w: stream %s, event %s at %s", ErrStale, u.StreamID, u.EventID, u.OccurredAt)
	}
	return fmt.Errorf("streamstate: update stream %s with event %s in %s: %w", u.StreamID, u.EventID, s.Table, err)
}

func (s *Store) targetEntry(u Update) *types.AttributeValueMemberM {
	return &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
		AttrStatus:         str(u.Status),
		AttrLastEventID:    str(u.EventID),
		AttrLastEventType:  str(u.EventType),
		AttrLastOccurredAt: str(u.OccurredAt),
		AttrUpdatedAt:      str(s.now()),
	}}
}

func (s *Store) applyTarget(ctx context.Context, u Update) error {
	entry := s.targetEntry(u)
	tnames := map[string]string{
		"#targets":        AttrSimulcastTargets,
		"#tid":            u.SimulcastID,
		"#lastEventId":    AttrLastEventID,
		"#lastOccurredAt": AttrLastOccurredAt,
	}
	// Two attempts at most: a lost race to create the map sends us back to
	// the entry update once.
	for range 2 {
		_, err := s.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                s.tablePtr(),
			Key:                      s.key(u.StreamID),
			UpdateExpression:         aws.String(targetUpdate),
			ConditionExpression:      aws.String(targetCondition),
			ExpressionAttributeNames: tnames,
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":id":    str(u.EventID),
				":t":     str(u.OccurredAt),
				":entry": entry,
			},
			// On a failed condition, the old item tells "no map yet" from
			// "stale" without another read.
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if err == nil {
			return nil
		}
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return fmt.Errorf("streamstate: update simulcast target %s of stream %s with event %s in %s: %w",
				u.SimulcastID, u.StreamID, u.EventID, s.Table, err)
		}
		if _, hasMap := ccf.Item[AttrSimulcastTargets]; hasMap {
			return fmt.Errorf("%w: simulcast target %s of stream %s, event %s at %s",
				ErrStale, u.SimulcastID, u.StreamID, u.EventID, u.OccurredAt)
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
			return nil
		}
		if !errors.As(err, &ccf) {
			return fmt.Errorf("streamstate: create simulcast targets of stream %s for event %s in %s: %w",
				u.StreamID, u.EventID, s.Table, err)
		}
	}
	return fmt.Errorf("streamstate: simulcast targets of stream %s keep changing under event %s; retry", u.StreamID, u.EventID)
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
		UpdatedAt:        ddbitem.String(item, AttrUpdatedAt),
		SimulcastTargets: map[string]Target{},
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
				UpdatedAt:      ddbitem.String(e.Value, AttrUpdatedAt),
			}
		}
	}
	return st
}
