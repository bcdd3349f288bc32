package fastpix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The reference parser: Parse as it was written before it decoded the body
// in one pass (a map of raw values, each object decoded again, each string
// on its own). FuzzParseAsTheReference holds the two to the same answers.

type refFields map[string]json.RawMessage

// object decodes raw as a JSON object, or nil when it is not one.
func refObject(raw json.RawMessage) refFields {
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	var f refFields
	if json.Unmarshal(raw, &f) != nil {
		return nil
	}
	return f
}

func refParse(body []byte) (Event, error) {
	var ev Event
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return ev, ErrProbe
	}
	if trimmed[0] != '{' {
		return ev, ErrNotObject
	}
	var env refFields
	if err := json.Unmarshal(trimmed, &env); err != nil {
		return ev, fmt.Errorf("%w: %v", ErrNotObject, err)
	}
	rawID, hasID := env["id"]
	rawType, hasType := env["type"]
	if !hasID && !hasType {
		return ev, ErrProbe
	}
	var ok bool
	if ev.ID, ok = refNonEmptyString(rawID); !ok {
		return ev, ErrMissingID
	}
	if ev.Type, ok = refNonEmptyString(rawType); !ok {
		return ev, ErrMissingType
	}
	ev.Object = refParseRef(env["object"])
	ev.Workspace = refParseRef(env["workspace"])
	if ev.Workspace.ID == "" && ev.Workspace.Name == "" {
		ev.Workspace = refParseRef(env["environment"])
	}
	ev.RawCreatedAt, _ = refStringValue(env["createdAt"])
	if t, err := ParseTime(ev.RawCreatedAt); err == nil {
		ev.CreatedAt = t
	}
	ev.Status, _ = refStringValue(env["status"])

	data := refObject(env["data"])
	if ev.Status == "" {
		ev.Status, _ = refStringValue(data["status"])
	}
	if b, err := refBoolValue(data["test"]); err == nil {
		ev.Test = b
	}
	streamID, _ := refStringValue(data["streamId"])
	dataID, _ := refStringValue(data["id"])
	switch {
	case IsSimulcast(ev.Type):
		// The parent is data.livestreamId, else data.streamId, else the
		// envelope's object when it is the live stream; the target is
		// data.simulcastId, else the object when it is the target.
		ev.StreamID, _ = refStringValue(data["livestreamId"])
		ev.SimulcastID, _ = refStringValue(data["simulcastId"])
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

func refParseRef(raw json.RawMessage) Ref {
	f := refObject(raw)
	var r Ref
	r.ID, _ = refStringValue(f["id"])
	r.Name, _ = refStringValue(f["name"])
	r.Type, _ = refStringValue(f["type"])
	return r
}

// stringValue decodes a raw JSON string; anything else (absent, null, a
// number) gives "" and false.
func refStringValue(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func refNonEmptyString(raw json.RawMessage) (string, bool) {
	s, ok := refStringValue(raw)
	return s, ok && strings.TrimSpace(s) != ""
}
func refBoolValue(raw json.RawMessage) (bool, error) {
	var b bool
	err := json.Unmarshal(raw, &b)
	return b, err
}

// FuzzParseAsTheReference: Parse reads every body as the reference parser
// does: the same event, and the same kind of refusal.
func FuzzParseAsTheReference(f *testing.F) {
	fixtures, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range fixtures {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		``, `   `, `[]`, `{}`, `{"type":"t"}`, `{"id":" ","type":"t"}`, `{"id":"a","type":"t","createdAt":"2024-04-02t11:17:52z"}`,
		`{"id":"a","type":"t","data":{"n":1e400,"test":true}}`,
		`{"id":"a","type":"t"} {"id":"b"}`,
		`{"id":"a","type":"t"}x`,
		`{"id":"a","ID":"b","type":"t","data":{"streamId":"s","StreamId":"x","test":null}}`,
		`{"id":"a\u0000","type":"\ud800t","data":{"streamId":"\u0073"}}`,
		"{\"id\":\"a\",\"type\":\"t\",\"data\":{\"streamId\":\"\xff\"}}",
		`{"id":"a","type":"video.live_stream.simulcast_target.broadcasting","object":{"type":"simulcast","id":"o"},"data":{"livestreamId":7}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := Parse(body)
		want, werr := refParse(body)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: parsed\n%+v\nthe reference\n%+v", body, got, want)
		}
		for _, kind := range []error{ErrProbe, ErrNotObject, ErrMissingID, ErrMissingType} {
			if errors.Is(err, kind) != errors.Is(werr, kind) {
				t.Fatalf("%q: refused with %v, the reference with %v", body, err, werr)
			}
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: error %v, the reference's %v", body, err, werr)
		}
	})
}
