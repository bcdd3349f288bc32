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
	"io"
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

// fields is a JSON object read with its keys exactly as sent. encoding/json
// matches struct fields without regard to case, so "ID" after "id" would win
// while every other JSON reader sees "id": the envelope is read into maps,
// whose keys are exact. It is decoded in one pass, numbers kept as text
// (json.Number), so that no number, however large, refuses a body.
type fields map[string]any

// decodeObject decodes a JSON object, whole, as fields.
func decodeObject(doc []byte) (fields, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var f fields
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	// As json.Unmarshal: nothing but white space after the object.
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("invalid character after top-level value")
	}
	return f, nil
}

// object is v when it is a JSON object, else nil.
func object(v any) fields {
	f, _ := v.(map[string]any)
	return f
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
	env, err := decodeObject(trimmed)
	if err != nil {
		return ev, fmt.Errorf("%w: %v", ErrNotObject, err)
	}
	rawID, hasID := env["id"]
	rawType, hasType := env["type"]
	if !hasID && !hasType {
		return ev, ErrProbe
	}
	var ok bool
	if ev.ID, ok = nonEmptyString(rawID); !ok {
		return ev, ErrMissingID
	}
	if ev.Type, ok = nonEmptyString(rawType); !ok {
		return ev, ErrMissingType
	}
	ev.Object = parseRef(env["object"])
	ev.Workspace = parseRef(env["workspace"])
	if ev.Workspace.ID == "" && ev.Workspace.Name == "" {
		ev.Workspace = parseRef(env["environment"])
	}
	ev.RawCreatedAt, _ = stringValue(env["createdAt"])
	if t, err := ParseTime(ev.RawCreatedAt); err == nil {
		ev.CreatedAt = t
	}
	ev.Status, _ = stringValue(env["status"])

	data := object(env["data"])
	if ev.Status == "" {
		ev.Status, _ = stringValue(data["status"])
	}
	if b, ok := data["test"].(bool); ok {
		ev.Test = b
	}
	streamID, _ := stringValue(data["streamId"])
	dataID, _ := stringValue(data["id"])
	switch {
	case IsSimulcast(ev.Type):
		// The parent is data.livestreamId, else data.streamId, else the
		// envelope's object when it is the live stream; the target is
		// data.simulcastId, else the object when it is the target.
		ev.StreamID, _ = stringValue(data["livestreamId"])
		ev.SimulcastID, _ = stringValue(data["simulcastId"])
		if ev.StreamID == "" {
			ev.StreamID = streamID
		}
		switch {
		case ev.StreamID == "" && isLiveObject(ev.Object.Type):
			ev.StreamID = ev.Object.ID
		case ev.SimulcastID == "" && strings.Contains(ev.Object.Type, "simulcast"):
			ev.SimulcastID = ev.Object.ID
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

// isLiveObject: the envelope's object is a live stream ("live" in FastPix's
// payloads; an object without a type is taken as the event's own stream).
func isLiveObject(objectType string) bool {
	return objectType == "" || objectType == "live" || objectType == "live_stream"
}

// ParseTime reads an RFC 3339 time as FastPix writes createdAt, in UTC. It
// also takes what RFC 3339 allows and Go's time.RFC3339Nano does not: a
// lower-case "t" or "z", and a leap second (":60"), read as the last
// nanosecond of its minute so that it still sorts before the next one.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if len(s) < len("2006-01-02T15:04:05Z") {
		return time.Time{}, fmt.Errorf("fastpix: time %q is not RFC 3339", s)
	}
	b := []byte(s)
	if b[10] == 't' {
		b[10] = 'T'
	}
	if b[len(b)-1] == 'z' {
		b[len(b)-1] = 'Z'
	}
	leap := string(b[17:19]) == "60"
	if leap {
		b[17], b[18] = '5', '9'
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, fmt.Errorf("fastpix: time %q is not RFC 3339", s)
	}
	if leap {
		t = t.Truncate(time.Second).Add(time.Second - time.Nanosecond)
	}
	return t.UTC(), nil
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

func parseRef(v any) Ref {
	f := object(v)
	var r Ref
	r.ID, _ = stringValue(f["id"])
	r.Name, _ = stringValue(f["name"])
	r.Type, _ = stringValue(f["type"])
	return r
}

// stringValue is v when it is a JSON string; anything else (absent, null, a
// number) gives "" and false.
func stringValue(v any) (string, bool) {
	s, ok := v.(string)
	return s, ok
}

func nonEmptyString(v any) (string, bool) {
	s, ok := stringValue(v)
	return s, ok && strings.TrimSpace(s) != ""
}
