package fastpix

import (
	"errors"
	"testing"
)

func TestChangeOf(t *testing.T) {
	tests := []struct {
		typ, payloadStatus string
		about              bool
		want               Change
	}{
		{"video.live_stream.active", "idle", true, Change{Transition: true, Status: "active", Rank: 5}},
		{"video.live_stream.disconnected", "", true, Change{Transition: true, Status: "disconnected", Rank: 6}},
		{"video.live_stream.created", "idle", true, Change{Transition: true, Status: "idle", Rank: 1}},
		{"video.live_stream.created", "", true, Change{Transition: true, Status: "created", Rank: 1}},
		{"video.live_stream.enabled", "idle", true, Change{Transition: true, Status: "idle", Rank: 2}},
		{"video.live_stream.deleted", "", true, Change{Transition: true, Status: "deleted", Rank: 9}},
		{"video.live_stream.recording", "active", true, Change{}},
		{"video.live_stream.updated", "idle", true, Change{}},
		{"video.live_stream.something_new", "", true, Change{}},
		{"video.live_stream.simulcast.broadcasting", "", true, Change{Target: true, Transition: true, Status: "broadcasting", Rank: 3}},
		{"video.live_stream.simulcast_target.starting", "", true, Change{Target: true, Transition: true, Status: "starting", Rank: 2}},
		{"video.live_stream.simulcast_target.deleted", "", true, Change{Target: true, Transition: true, Status: "deleted", Rank: 9}},
		{"video.live_stream.simulcast_target.updated", "", true, Change{Target: true}},
		{"video.media.live_stream.ready", "", false, Change{}},
		{"video.media.ready", "", false, Change{}},
	}
	for _, tt := range tests {
		got, about := ChangeOf(tt.typ, tt.payloadStatus)
		if about != tt.about || got != tt.want {
			t.Errorf("ChangeOf(%q, %q) = %+v, %v; want %+v, %v", tt.typ, tt.payloadStatus, got, about, tt.want, tt.about)
		}
	}
	// The lifecycle's own order breaks ties of equal createdAt.
	for _, pair := range [][2]string{{"connected", "active"}, {"active", "disconnected"}, {"disconnected", "idle"}, {"created", "connected"}} {
		a, _ := ChangeOf(liveStreamPrefix+pair[0], "")
		b, _ := ChangeOf(liveStreamPrefix+pair[1], "")
		if a.Rank >= b.Rank {
			t.Errorf("%s (rank %d) not before %s (rank %d)", pair[0], a.Rank, pair[1], b.Rank)
		}
	}
}

// The envelope's fields are read by their exact names: a differently cased
// key is another field, as every other JSON reader sees it.
func TestParseExactKeys(t *testing.T) {
	tests := []struct {
		name, body                  string
		id, typ, stream, target, ws string
	}{
		{"ID after id", `{"id":"e1","type":"video.live_stream.active","ID":"e2","data":{"streamId":"s1"}}`, "e1", "video.live_stream.active", "s1", "", ""},
		{"Type after type", `{"id":"e1","type":"video.live_stream.active","Type":"video.live_stream.idle","data":{"streamId":"s1"}}`, "e1", "video.live_stream.active", "s1", "", ""},
		{"data.StreamId", `{"id":"e1","type":"video.live_stream.active","object":{"type":"live","id":"obj"},"data":{"StreamID":"evil"}}`, "e1", "video.live_stream.active", "obj", "", ""},
		{"Data", `{"id":"e1","type":"video.live_stream.active","object":{"id":"obj"},"Data":{"streamId":"evil"}}`, "e1", "video.live_stream.active", "obj", "", ""},
		{"workspace ID", `{"id":"e1","type":"video.live_stream.active","workspace":{"id":"w1","ID":"w2"},"data":{"streamId":"s1"}}`, "e1", "video.live_stream.active", "s1", "", "w1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Parse([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if ev.ID != tt.id || ev.Type != tt.typ || ev.StreamID != tt.stream || ev.SimulcastID != tt.target || ev.Workspace.ID != tt.ws {
				t.Errorf("got id %q type %q stream %q target %q workspace %q", ev.ID, ev.Type, ev.StreamID, ev.SimulcastID, ev.Workspace.ID)
			}
		})
	}
	// Only a differently cased "ID" is not an id.
	if _, err := Parse([]byte(`{"ID":"e1","type":"video.live_stream.active"}`)); !errors.Is(err, ErrMissingID) {
		t.Errorf("upper-case ID alone: %v, want ErrMissingID", err)
	}
}

func TestParseSimulcastFallbacks(t *testing.T) {
	tests := []struct {
		name, body     string
		stream, target string
	}{
		{"no livestreamId: data.streamId", `{"id":"e","type":"video.live_stream.simulcast_target.broadcasting","data":{"simulcastId":"t1","streamId":"s1"}}`, "s1", "t1"},
		{"no stream in data: the live object", `{"id":"e","type":"video.live_stream.simulcast.broadcasting","object":{"type":"live","id":"s1"},"data":{"simulcastId":"t1"}}`, "s1", "t1"},
		{"no target in data: the simulcast object", `{"id":"e","type":"video.live_stream.simulcast_target.broadcasting","object":{"type":"simulcast_target","id":"t1"},"data":{"livestreamId":"s1"}}`, "s1", "t1"},
		{"no target anywhere", `{"id":"e","type":"video.live_stream.simulcast.broadcasting","object":{"type":"live","id":"s1"},"data":{}}`, "s1", ""},
		{"a simulcast object is not the stream", `{"id":"e","type":"video.live_stream.simulcast.broadcasting","object":{"type":"simulcast","id":"t1"}}`, "", "t1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Parse([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if ev.StreamID != tt.stream || ev.SimulcastID != tt.target {
				t.Errorf("stream %q target %q; want %q %q", ev.StreamID, ev.SimulcastID, tt.stream, tt.target)
			}
		})
	}
}

// What is not RFC 3339 is refused, not guessed.
func TestParseTimeRefuses(t *testing.T) {
	for _, bad := range []string{"", "yesterday", "2024-04-02 11:17:52Z", "2024-04-02T11:17:61Z", "2024-04-02T11:17:52"} {
		if got, err := ParseTime(bad); err == nil {
			t.Errorf("ParseTime(%q) = %v, want an error", bad, got)
		}
	}
}

// One malformed element of "new,old" leaves the good secret usable.
func TestNewVerifierKeepsGoodSecrets(t *testing.T) {
	body := []byte(`{"type":"video.media.ready","data":{"id":"abc-123"}}`)
	sig, _ := Sign(demoSecret, body)
	for _, value := range []string{demoSecret + ",%%%", "%%%, " + demoSecret, demoSecret + ",,not base64!"} {
		v, err := NewVerifier(value)
		if !errors.Is(err, ErrBadSecret) || v == nil || v.Secrets() != 1 {
			t.Fatalf("NewVerifier(%q) = %v, %v; want the good secret and ErrBadSecret", value, v, err)
		}
		if err := v.Verify(body, sig); err != nil {
			t.Errorf("%q: signed with the good secret: %v", value, err)
		}
	}
	// Commas only separate: white space inside a value is not a separator.
	if v, err := NewVerifier(demoSecret + " " + demoSecret); v != nil || !errors.Is(err, ErrBadSecret) {
		t.Errorf("space-separated secrets: %v, %v; want one bad secret", v, err)
	}
}
