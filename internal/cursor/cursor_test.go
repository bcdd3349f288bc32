package cursor_test

import (
	"errors"
	"testing"

	"github.com/streamhook/fastpix-receiver/internal/cursor"
)

type position struct {
	Version int    `json:"v"`
	At      string `json:"o"`
}

func TestRoundTrip(t *testing.T) {
	in := position{Version: 1, At: "2024-04-02T11:17:52.722812836Z"}
	s := cursor.Encode(in)
	for _, text := range []string{s, s + "=", s + "=="} {
		var out position
		if err := cursor.Decode(text, &out); err != nil || out != in {
			t.Errorf("Decode(%q) = %+v, %v; want %+v", text, out, err, in)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, text := range []string{
		"",
		"!!",
		cursor.Encode("a string"),
		cursor.Encode(map[string]any{"v": 1, "extra": true}),  // an unknown field
		cursor.Encode(position{}) + cursor.Encode(position{}), // not one value
		"eyJ2IjoxfXt9", // {"v":1}{}: a second value
	} {
		var out position
		if err := cursor.Decode(text, &out); !errors.Is(err, cursor.ErrMalformed) {
			t.Errorf("Decode(%q) = %v, want ErrMalformed", text, err)
		}
	}
}
