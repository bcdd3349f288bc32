// Package changefeed is the stream change feed: one SNS message for every
// change the notifier applies to a stream's or a simulcast target's status,
// notable or not, so that a team's own UI can follow its fleet as it
// changes without polling.
//
// A change is published only when it was applied: a duplicate or stale
// event changes no state, so it sends nothing. The message is JSON for
// every protocol (no email or SMS rendering: the feed is for programs), and
// carries String message attributes so a subscriber narrows the feed to
// its streams, workspaces or statuses with an SNS filter policy.
package changefeed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/streamhook/fastpix-receiver/pkg/alerts"
)

// Message attribute names, for subscription filter policies. The names
// shared with the alert topics are the alerts package's, so one filter
// policy reads the same on both.
const (
	AttrStreamID          = alerts.AttrStreamID
	AttrWorkspaceID       = alerts.AttrWorkspaceID
	AttrSimulcastTargetID = "simulcastTargetId"
	AttrStatus            = "status"
	AttrEventType         = alerts.AttrEventType
	AttrTest              = alerts.AttrTest
)

// Change is one applied change of a stream's status, or of one of its
// simulcast targets' when SimulcastTargetID is set.
type Change struct {
	StreamID          string
	SimulcastTargetID string
	WorkspaceID       string
	WorkspaceName     string
	// PreviousStatus is the status the change replaced; "" when the stream
	// (or target) had none yet.
	PreviousStatus string
	Status         string
	EventID        string
	EventType      string
	// OccurredAt is when FastPix says the change happened
	// (eventstore.TimeLayout, so text order is time order): subscribers
	// order changes by it, not by arrival.
	OccurredAt string
	Test       bool
	// Mark is what the alert rules add to the stream's status after the
	// change (alertrules.MarkHeld, MarkUnstable, or ""), and HeldUntil
	// when a held drop's grace ends (eventstore.TimeLayout): a screen
	// shows "held" until then, or until the stream's next change.
	// Stream changes only; a target's change leaves the stream's mark.
	Mark      string
	HeldUntil string
}

// body is the message's JSON.
type body struct {
	StreamID          string           `json:"streamId"`
	SimulcastTargetID string           `json:"simulcastTargetId,omitempty"`
	Workspace         alerts.Workspace `json:"workspace"`
	PreviousStatus    string           `json:"previousStatus,omitempty"`
	Status            string           `json:"status"`
	EventID           string           `json:"eventId"`
	EventType         string           `json:"type"`
	OccurredAt        string           `json:"occurredAt"`
	Test              bool             `json:"test"`
	Mark              string           `json:"alert,omitempty"`
	HeldUntil         string           `json:"heldUntil,omitempty"`
}

// Message renders c: the JSON as the default (and only) rendering, and the
// filter attributes. Empty attribute values are left out: SNS refuses them.
func Message(c Change) (alerts.Message, error) {
	b, err := json.Marshal(body{
		StreamID:          c.StreamID,
		SimulcastTargetID: c.SimulcastTargetID,
		Workspace:         alerts.Workspace{ID: c.WorkspaceID, Name: c.WorkspaceName},
		PreviousStatus:    c.PreviousStatus,
		Status:            c.Status,
		EventID:           c.EventID,
		EventType:         c.EventType,
		OccurredAt:        c.OccurredAt,
		Test:              c.Test,
		Mark:              c.Mark,
		HeldUntil:         c.HeldUntil,
	})
	if err != nil {
		return alerts.Message{}, fmt.Errorf("changefeed: encode change of stream %s: %w", c.StreamID, err)
	}
	attrs := map[string]string{AttrTest: strconv.FormatBool(c.Test)}
	for name, v := range map[string]string{
		AttrStreamID:          c.StreamID,
		AttrWorkspaceID:       c.WorkspaceID,
		AttrSimulcastTargetID: c.SimulcastTargetID,
		AttrStatus:            c.Status,
		AttrEventType:         c.EventType,
	} {
		if v != "" {
			attrs[name] = v
		}
	}
	return alerts.Message{Default: string(b), Attributes: attrs}, nil
}

// Decode reads a feed message's JSON (what a subscriber receives) back
// into the change it describes.
func Decode(message string) (Change, error) {
	var b body
	if err := json.Unmarshal([]byte(message), &b); err != nil {
		return Change{}, fmt.Errorf("changefeed: not a change message: %w", err)
	}
	if b.StreamID == "" || b.Status == "" {
		return Change{}, errors.New("changefeed: not a change message: no stream or status")
	}
	return Change{
		StreamID:          b.StreamID,
		SimulcastTargetID: b.SimulcastTargetID,
		WorkspaceID:       b.Workspace.ID,
		WorkspaceName:     b.Workspace.Name,
		PreviousStatus:    b.PreviousStatus,
		Status:            b.Status,
		EventID:           b.EventID,
		EventType:         b.EventType,
		OccurredAt:        b.OccurredAt,
		Test:              b.Test,
		Mark:              b.Mark,
		HeldUntil:         b.HeldUntil,
	}, nil
}

// Publisher publishes applied changes.
type Publisher interface {
	Publish(ctx context.Context, c Change) error
}

// Feed publishes changes to one SNS topic through the alerts' publisher
// (one Publish per change).
type Feed struct {
	Publisher alerts.Publisher
	TopicARN  string
}

var _ Publisher = (*Feed)(nil)

// Publish implements Publisher.
func (f *Feed) Publish(ctx context.Context, c Change) error {
	m, err := Message(c)
	if err != nil {
		return err
	}
	if err := f.Publisher.Publish(ctx, f.TopicARN, m); err != nil {
		// err is an alerts.ErrPublish: the one sentinel of a publish that
		// may not have reached its topic.
		return fmt.Errorf("changefeed: stream %s, event %s: %w", c.StreamID, c.EventID, err)
	}
	return nil
}
