// Package fastpix understands what FastPix sends to a webhook: the event
// envelope, which stream an event is about, how deliveries are signed, and
// which fields carry credentials that must never be kept.
//
// The package knows nothing of AWS or Lambda; it works on the raw bytes of a
// delivery.
package fastpix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Event types the product reacts to. FastPix adds types over time: code must
// accept any type string, these are only the ones with a meaning here.
const (
	TypeLiveStreamCreated      = "video.live_stream.created"
	TypeLiveStreamPreparing    = "video.live_stream.preparing"
	TypeLiveStreamConnected    = "video.live_stream.connected"
	TypeLiveStreamRecording    = "video.live_stream.recording"
	TypeLiveStreamActive       = "video.live_stream.active"
	TypeLiveStreamDisconnected = "video.live_stream.disconnected"
	TypeLiveStreamIdle         = "video.live_stream.idle"
	TypeLiveStreamUpdated      = "video.live_stream.updated"
	TypeLiveStreamEnabled      = "video.live_stream.enabled"
	TypeLiveStreamDisabled     = "video.live_stream.disabled"
	TypeLiveStreamDeleted      = "video.live_stream.deleted"

	// Simulcast target events come in two spellings; both are accepted.
	TypeSimulcastBroadcasting       = "video.live_stream.simulcast.broadcasting"
	TypeSimulcastTargetBroadcasting = "video.live_stream.simulcast_target.broadcasting"
)

const (
	liveStreamPrefix      = "video.live_stream."
	simulcastPrefix       = "video.live_stream.simulcast."
	simulcastTargetPrefix = "video.live_stream.simulcast_target."
	liveRecordingPrefix   = "video.media.live_stream."
	liveClipPrefix        = "video.media.live_clip."
)

// Errors returned by Parse. Callers branch on them with errors.Is.
var (
	// ErrNotObject: the body is not a JSON object.
	ErrNotObject = errors.New("fastpix: body is not a JSON object")
	// ErrMissingID: the envelope has no usable "id" (absent, empty or not a string).
	ErrMissingID = errors.New("fastpix: event id missing, empty or not a string")
	// ErrMissingType: the envelope has no usable "type".
	ErrMissingType = errors.New("fastpix: event type missing, empty or not a string")
	// ErrProbe: the body is a webhook validation probe, not an event: empty
	// (or only white space), or a JSON object with neither "id" nor "type".
	// FastPix sends one, unsigned or signed, when a URL is registered, and
	// refuses the URL unless it is answered 2xx. It carries no event, so
	// nothing is to be stored for it.
	ErrProbe = errors.New("fastpix: validation probe, not an event")
)

// Ref names a resource or a workspace: {id, name} or {type, id}.
type Ref struct {
	ID   string
	Name string
	Type string
}

// Event is one FastPix webhook event, parsed leniently: unknown fields are
// ignored, optional fields of the wrong JSON type are treated as absent, so
// that a new or odd payload is still stored rather than lost.
type Event struct {
	ID     string
	Type   string
	Object Ref
	// Workspace is the "workspace" of newer payloads or the "environment" of
	// older ones.
	Workspace Ref
	// CreatedAt is when FastPix created the event; zero when the payload's
	// createdAt is absent or not RFC 3339 (RawCreatedAt then says what came).
	CreatedAt    time.Time
	RawCreatedAt string
	// Status is the top-level status, or else data.status.
	Status string
	// StreamID is the live stream the event is about, "" when none.
	StreamID string
	// SimulcastID is the simulcast target of simulcast events.
	SimulcastID string
	// MediaID is the media of recording, clip and media events.
	MediaID string
	// Test reports data.test: an event of a test stream.
	Test bool
}

// envelope mirrors the JSON with raw fields, so each can be decoded on its own
// and a wrong type in one optional field does not fail the whole event.
type envelope struct {
	ID          json.RawMessage `json:"id"`
	Type        json.RawMessage `json:"type"`
	Object      json.RawMessage `json:"object"`
	Environment json.RawMessage `json:"environment"`
	Workspace   json.RawMessage `json:"workspace"`
	CreatedAt   json.RawMessage `json:"createdAt"`
	Status      json.RawMessage `json:"status"`
	// Data is decoded in the same pass as the envelope: one scan of the
	// body, not two. A data that is not an object is a type error json
	// reports after decoding everything else, and is then ignored.
	Data dataFields `json:"data"`
}

type dataFields struct {
	StreamID     json.RawMessage `json:"streamId"`
	LivestreamID json.RawMessage `json:"livestreamId"`
	SimulcastID  json.RawMessage `json:"simulcastId"`
	ID           json.RawMessage `json:"id"`
	Status       json.RawMessage `json:"status"`
	Test         json.RawMessage `json:"test"`
}

type refFields struct {
	ID   json.RawMessage `json:"id"`
	Name json.RawMessage `json:"name"`
	Type json.RawMessage `json:"type"`
}

// Parse decodes one webhook body. It fails with ErrProbe for a validation
// probe, and otherwise only when the body is not a JSON object or its "id" or
// "type" is unusable; every other field is optional.
//
// Parse does not check the signature: a caller answers a probe without one,
// and must verify everything else before trusting the event.
func Parse(body []byte) (Event, error) {
	var ev Event
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return ev, ErrProbe
	}
	if trimmed[0] != '{' {
		return ev, ErrNotObject
	}
	var env envelope
	if err := json.Unmarshal(trimmed, &env); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return ev, fmt.Errorf("%w: %v", ErrNotObject, err)
		}
		// Only data can have the wrong type (every other field is raw):
		// read it as absent.
		env.Data = dataFields{}
	}
	if env.ID == nil && env.Type == nil {
		return ev, ErrProbe
	}
	var ok bool
	if ev.ID, ok = nonEmptyString(env.ID); !ok {
		return ev, ErrMissingID
	}
	if ev.Type, ok = nonEmptyString(env.Type); !ok {
		return ev, ErrMissingType
	}
	ev.Object = parseRef(env.Object)
	ev.Workspace = parseRef(env.Workspace)
	if ev.Workspace.ID == "" && ev.Workspace.Name == "" {
		ev.Workspace = parseRef(env.Environment)
	}
	ev.RawCreatedAt, _ = stringValue(env.CreatedAt)
	if t, err := time.Parse(time.RFC3339Nano, ev.RawCreatedAt); err == nil {
		ev.CreatedAt = t.UTC()
	}
	ev.Status, _ = stringValue(env.Status)

	data := env.Data
	if ev.Status == "" {
		ev.Status, _ = stringValue(data.Status)
	}
	if b, err := boolValue(data.Test); err == nil {
		ev.Test = b
	}
	streamID, _ := stringValue(data.StreamID)
	dataID, _ := stringValue(data.ID)
	switch {
	case IsSimulcast(ev.Type):
		ev.StreamID, _ = stringValue(data.LivestreamID)
		ev.SimulcastID, _ = stringValue(data.SimulcastID)
		if ev.StreamID == "" {
			ev.StreamID = streamID
		}
	case strings.HasPrefix(ev.Type, liveStreamPrefix):
		ev.StreamID = streamID
		if ev.StreamID == "" {
			ev.StreamID = ev.Object.ID
		}
	case strings.HasPrefix(ev.Type, liveRecordingPrefix), strings.HasPrefix(ev.Type, liveClipPrefix):
		ev.StreamID = streamID
		ev.MediaID = dataID
	case strings.HasPrefix(ev.Type, "video.media.") || strings.HasPrefix(ev.Type, "video.asset."):
		ev.MediaID = dataID
	}
	return ev, nil
}

// IsSimulcast reports whether an event type is about a simulcast target, in
// either of the two spellings FastPix uses.
func IsSimulcast(eventType string) bool {
	return strings.HasPrefix(eventType, simulcastPrefix) || strings.HasPrefix(eventType, simulcastTargetPrefix)
}

// Action is the last dot-separated part of an event type:
// "video.live_stream.active" gives "active".
func Action(eventType string) string {
	return eventType[strings.LastIndexByte(eventType, '.')+1:]
}

func parseRef(raw json.RawMessage) Ref {
	var f refFields
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &f) != nil {
		return Ref{}
	}
	var r Ref
	r.ID, _ = stringValue(f.ID)
	r.Name, _ = stringValue(f.Name)
	r.Type, _ = stringValue(f.Type)
	return r
}

// stringValue decodes a raw JSON string; anything else (absent, null, a
// number) gives "" and false.
func stringValue(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func nonEmptyString(raw json.RawMessage) (string, bool) {
	s, ok := stringValue(raw)
	return s, ok && strings.TrimSpace(s) != ""
}

func boolValue(raw json.RawMessage) (bool, error) {
	var b bool
	err := json.Unmarshal(raw, &b)
	return b, err
}
