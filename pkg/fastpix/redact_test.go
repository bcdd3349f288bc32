package fastpix

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			name: "stream key in data",
			in:   `{"data":{"streamKey":"FP_abc","status":"idle"}}`,
			want: `{"data":{"streamKey":"[redacted]","status":"idle"}}`,
		},
		{
			name: "every credential of a live stream, at every depth",
			in:   `{"data":{"streamKey":"k1","srtSecret":"s1","srtPlaybackResponse":{"srtPlaybackStreamId":"p","srtPlaybackSecret":"s2"},"simulcastResponses":[{"simulcastId":"t1","url":"rtmp://x","streamKey":"k2","isEnabled":true},{"streamKey":"k3"}]}}`,
			want: `{"data":{"streamKey":"[redacted]","srtSecret":"[redacted]","srtPlaybackResponse":{"srtPlaybackStreamId":"p","srtPlaybackSecret":"[redacted]"},"simulcastResponses":[{"simulcastId":"t1","url":"rtmp://x","streamKey":"[redacted]","isEnabled":true},{"streamKey":"[redacted]"}]}}`,
		},
		{
			name: "the docs' misspelling",
			in:   `{"srtSecert":"s"}`,
			want: `{"srtSecert":"[redacted]"}`,
		},
		{
			name: "other spellings of the same names",
			in:   `{"stream_key":"a","StreamKey":"b","SRT-SECRET":"c"}`,
			want: `{"stream_key":"[redacted]","StreamKey":"[redacted]","SRT-SECRET":"[redacted]"}`,
		},
		{
			name: "escaped key",
			in:   `{"stream\u004bey":"a"}`,
			want: `{"stream\u004bey":"[redacted]"}`,
		},
		{
			name: "non-string values are hidden too",
			in:   `{"streamKey":12,"srtSecret":{"a":["x","}"]},"srtPlaybackSecret":[1,2],"x":1}`,
			want: `{"streamKey":"[redacted]","srtSecret":"[redacted]","srtPlaybackSecret":"[redacted]","x":1}`,
		},
		{
			name: "null stays null",
			in:   `{"streamKey":null}`,
			want: `{"streamKey":null}`,
		},
		{
			name: "a value that looks like a key is left alone",
			in:   `{"note":"streamKey","list":["streamKey",":"],"k":"\"streamKey\":"}`,
			want: `{"note":"streamKey","list":["streamKey",":"],"k":"\"streamKey\":"}`,
		},
		{
			name: "spacing and order kept",
			in:   "{\n  \"b\" : 1,\n  \"streamKey\" :\t\"k\" ,\n  \"a\": \"\u00e9\"\n}\n",
			want: "{\n  \"b\" : 1,\n  \"streamKey\" :\t\"[redacted]\" ,\n  \"a\": \"\u00e9\"\n}\n",
		},
		{
			name: "no credential: unchanged",
			in:   `{"id":"e1","data":{"playbackId":[{"id":"p"}]}}`,
			want: `{"id":"e1","data":{"playbackId":[{"id":"p"}]}}`,
		},
		{
			name: "escaped quotes inside a credential",
			in:   `{"streamKey":"a\"b\\","next":"v"}`,
			want: `{"streamKey":"[redacted]","next":"v"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Redact([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Redact =\n%s\nwant\n%s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("output is not valid JSON")
			}
			again, _ := Redact(got)
			if !bytes.Equal(again, got) {
				t.Errorf("not idempotent: %s", again)
			}
		})
	}
}

func TestRedactSeedFixtures(t *testing.T) {
	for _, tt := range []struct{ file, key string }{
		{"seed-live_stream.created-1.json", "FP_TRgf4CswLZ9UcHH3yTxQ"},
		{"seed-live_stream.created-2.json", "FP_pbeAbQF5LUxPAdUseA0u"},
	} {
		in := readFixture(t, tt.file)
		out, err := Redact(in)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(out, []byte(tt.key)) {
			t.Errorf("%s: stream key survives", tt.file)
		}
		// Only the key's value changed.
		want := strings.Replace(string(in), tt.key, Redacted, 1)
		if string(out) != want {
			t.Errorf("%s: more than the key changed:\n%s", tt.file, out)
		}
	}
}

func TestRedactRejectsInvalidJSON(t *testing.T) {
	for _, in := range []string{``, `{`, `{"streamKey":"a"`, `{"a":1}}`, "\xff"} {
		if _, err := Redact([]byte(in)); !errors.Is(err, ErrNotJSON) {
			t.Errorf("Redact(%q) = %v, want ErrNotJSON", in, err)
		}
	}
}

func TestIsCredentialField(t *testing.T) {
	for name, want := range map[string]bool{
		"streamKey": true, "srtSecret": true, "srtSecert": true, "srtPlaybackSecret": true,
		"STREAM_KEY": true, "streamId": false, "key": false, "secret": false, "srtPlaybackStreamId": false,
		strings.Repeat("streamKey", 10): false,
	} {
		if got := IsCredentialField(name); got != want {
			t.Errorf("IsCredentialField(%q) = %v", name, got)
		}
	}
}
