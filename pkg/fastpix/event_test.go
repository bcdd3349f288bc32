package fastpix

import (
	"errors"
	"os"
	"testing"
	"time"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSeedFixtures(t *testing.T) {
	tests := []struct {
		file      string
		id        string
		stream    string
		workspace Ref
		created   time.Time
	}{
		{
			file:      "seed-live_stream.created-1.json",
			id:        "8fa0e3ea-3d5c-4712-8428-803b532bbc33",
			stream:    "a2ae2143-62a1-4eee-b888-4f1406148481",
			workspace: Ref{ID: "7c07598b-c27b-42e6-8b31-a334da54c387", Name: "Development"},
			created:   time.Date(2024, 4, 2, 11, 17, 52, 722812836, time.UTC),
		},
		{
			file:      "seed-live_stream.created-2.json",
			id:        "26c7a1a4-d049-4046-b54b-7967354949f0",
			stream:    "3dda81f7-c3c8-4090-b19c-ddc8bc885a8d",
			workspace: Ref{ID: "43a59a2d-6d5f-41c2-ba36-f4e5a8b15829", Name: "Development"},
			created:   time.Date(2024, 4, 2, 12, 15, 24, 416436000, time.UTC),
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ev, err := Parse(readFixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if ev.ID != tt.id || ev.Type != TypeLiveStreamCreated || ev.StreamID != tt.stream {
				t.Errorf("got id %q type %q stream %q", ev.ID, ev.Type, ev.StreamID)
			}
			if ev.Object != (Ref{Type: "live", ID: tt.stream}) {
				t.Errorf("object = %+v", ev.Object)
			}
			if ev.Workspace != tt.workspace {
				t.Errorf("workspace = %+v, want %+v", ev.Workspace, tt.workspace)
			}
			if !ev.CreatedAt.Equal(tt.created) {
				t.Errorf("createdAt = %v, want %v", ev.CreatedAt, tt.created)
			}
			if ev.Status != "idle" || ev.Test {
				t.Errorf("status %q test %v", ev.Status, ev.Test)
			}
		})
	}
}

func TestParseStreamRules(t *testing.T) {
	tests := []struct {
		name, body                       string
		stream, simulcast, media, status string
		workspace                        Ref
		test                             bool
	}{
		{
			name:   "live stream: data.streamId wins over object.id",
			body:   `{"id":"e1","type":"video.live_stream.active","object":{"type":"live","id":"obj"},"data":{"streamId":"s1","status":"active"}}`,
			stream: "s1", status: "active",
		},
		{
			name:   "live stream: object.id when data has no streamId",
			body:   `{"id":"e1","type":"video.live_stream.idle","object":{"type":"live","id":"obj"}}`,
			stream: "obj",
		},
		{
			name:   "simulcast, original spelling: the parent is data.livestreamId",
			body:   `{"id":"e1","type":"video.live_stream.simulcast.broadcasting","object":{"type":"live","id":"obj"},"data":{"simulcastId":"t1","livestreamId":"s1"}}`,
			stream: "s1", simulcast: "t1",
		},
		{
			name:   "simulcast_target, current spelling",
			body:   `{"id":"e1","type":"video.live_stream.simulcast_target.broadcasting","data":{"simulcastId":"t1","livestreamId":"s1"}}`,
			stream: "s1", simulcast: "t1",
		},
		{
			name:   "recording of a stream",
			body:   `{"id":"e1","type":"video.media.live_stream.ready","data":{"id":"m1","streamId":"s1"}}`,
			stream: "s1", media: "m1",
		},
		{
			name:   "clip of a stream",
			body:   `{"id":"e1","type":"video.media.live_clip.created","data":{"id":"m1","streamId":"s1"}}`,
			stream: "s1", media: "m1",
		},
		{
			name:  "media belongs to no stream, even with a streamId",
			body:  `{"id":"e1","type":"video.media.ready","data":{"id":"m1","streamId":"s1"}}`,
			media: "m1",
		},
		{
			name:  "older asset name",
			body:  `{"id":"e1","type":"video.asset.created","data":{"id":"m1"}}`,
			media: "m1",
		},
		{
			name: "unknown type: no stream",
			body: `{"id":"e1","type":"video.something.new","data":{"streamId":"s1"}}`,
		},
		{
			name:      "workspace of newer payloads",
			body:      `{"id":"e1","type":"video.live_stream.created","workspace":{"id":"w1","name":"Prod"},"data":{"streamId":"s1"}}`,
			stream:    "s1",
			workspace: Ref{ID: "w1", Name: "Prod"},
		},
		{
			name:      "workspace preferred over environment",
			body:      `{"id":"e1","type":"video.live_stream.created","environment":{"id":"env"},"workspace":{"id":"w1"},"data":{"streamId":"s1"}}`,
			stream:    "s1",
			workspace: Ref{ID: "w1"},
		},
		{
			name:   "top-level status wins, test stream",
			body:   `{"id":"e1","type":"video.live_stream.active","status":"active","data":{"streamId":"s1","status":"idle","test":true}}`,
			stream: "s1", status: "active", test: true,
		},
		{
			name:   "unknown fields and odd optional types are tolerated",
			body:   `{"id":"e1","type":"video.live_stream.active","object":5,"environment":[],"createdAt":7,"attempts":null,"extra":{"x":[1,2]},"data":{"streamId":"s1","test":"yes"}}`,
			stream: "s1",
		},
		{
			name:   "data that is not an object is ignored",
			body:   `{"id":"e1","type":"video.live_stream.active","object":{"id":"obj"},"data":"x"}`,
			stream: "obj",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Parse([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if ev.StreamID != tt.stream || ev.SimulcastID != tt.simulcast || ev.MediaID != tt.media {
				t.Errorf("stream %q simulcast %q media %q; want %q %q %q", ev.StreamID, ev.SimulcastID, ev.MediaID, tt.stream, tt.simulcast, tt.media)
			}
			if ev.Status != tt.status || ev.Test != tt.test || ev.Workspace != tt.workspace {
				t.Errorf("status %q test %v workspace %+v", ev.Status, ev.Test, ev.Workspace)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, body string
		want       error
	}{
		{"empty", "", ErrProbe},
		{"white space", " \n\t", ErrProbe},
		{"empty object", "{}", ErrProbe},
		{"object without id or type", `{"hello":"fastpix"}`, ErrProbe},
		{"array", `[{"id":"e1","type":"t"}]`, ErrNotObject},
		{"string", `"x"`, ErrNotObject},
		{"number", `12`, ErrNotObject},
		{"truncated", `{"id":"e1","type":"t"`, ErrNotObject},
		{"trailing garbage", `{"id":"e1","type":"t"} x`, ErrNotObject},
		{"id missing", `{"type":"video.live_stream.active"}`, ErrMissingID},
		{"id empty", `{"id":"","type":"video.live_stream.active"}`, ErrMissingID},
		{"id blank", `{"id":"  ","type":"video.live_stream.active"}`, ErrMissingID},
		{"id number", `{"id":12,"type":"video.live_stream.active"}`, ErrMissingID},
		{"id null", `{"id":null,"type":"video.live_stream.active"}`, ErrMissingID},
		{"type missing", `{"id":"e1"}`, ErrMissingType},
		{"type empty", `{"id":"e1","type":""}`, ErrMissingType},
		{"type object", `{"id":"e1","type":{"a":1}}`, ErrMissingType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.body))
			if !errors.Is(err, tt.want) {
				t.Errorf("Parse(%q) = %v, want %v", tt.body, err, tt.want)
			}
		})
	}
}

func TestCreatedAtForms(t *testing.T) {
	tests := []struct {
		raw  string
		want time.Time
	}{
		{"2024-04-02T11:17:52.722812836Z", time.Date(2024, 4, 2, 11, 17, 52, 722812836, time.UTC)},
		{"2024-04-02T11:17:52Z", time.Date(2024, 4, 2, 11, 17, 52, 0, time.UTC)},
		{"2024-04-02T13:17:52.5+02:00", time.Date(2024, 4, 2, 11, 17, 52, 500000000, time.UTC)},
		{"yesterday", time.Time{}},
		// What RFC 3339 allows beyond Go's layout: lower-case t and z, and
		// a leap second, read as the last nanosecond of its minute.
		{"2024-04-02t11:17:52.5z", time.Date(2024, 4, 2, 11, 17, 52, 500000000, time.UTC)},
		{"2016-12-31T23:59:60Z", time.Date(2016, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{"2016-12-31T23:59:60.5Z", time.Date(2016, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{"2017-01-01T01:59:60+02:00", time.Date(2016, 12, 31, 23, 59, 59, 999999999, time.UTC)},
	}
	for _, tt := range tests {
		ev, err := Parse([]byte(`{"id":"e","type":"t","createdAt":"` + tt.raw + `"}`))
		if err != nil {
			t.Fatal(err)
		}
		if !ev.CreatedAt.Equal(tt.want) || ev.RawCreatedAt != tt.raw {
			t.Errorf("%s: CreatedAt = %v, want %v", tt.raw, ev.CreatedAt, tt.want)
		}
		if !ev.CreatedAt.IsZero() && ev.CreatedAt.Location() != time.UTC {
			t.Errorf("%s: not UTC", tt.raw)
		}
	}
}

func TestIsSimulcastAndAction(t *testing.T) {
	tests := []struct {
		typ       string
		simulcast bool
		action    string
	}{
		{TypeSimulcastBroadcasting, true, "broadcasting"},
		{TypeSimulcastTargetBroadcasting, true, "broadcasting"},
		{"video.live_stream.simulcast_target.updated", true, "updated"},
		{TypeLiveStreamActive, false, "active"},
		{"video.media.ready", false, "ready"},
		{"nodots", false, "nodots"},
	}
	for _, tt := range tests {
		if got := IsSimulcast(tt.typ); got != tt.simulcast {
			t.Errorf("IsSimulcast(%q) = %v", tt.typ, got)
		}
		if got := Action(tt.typ); got != tt.action {
			t.Errorf("Action(%q) = %q", tt.typ, got)
		}
	}
}
