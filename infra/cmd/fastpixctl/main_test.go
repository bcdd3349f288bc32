package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"testing"
)

// Every required flag left empty is named at once, with the variable that
// can give it instead.
func TestCommandNamesEveryMissingFlag(t *testing.T) {
	t.Setenv("EVENTS_TABLE", "")
	t.Setenv("STATE_TABLE", "state-from-env")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "inspect: required: -events-table (or EVENTS_TABLE), -stream"},
		{[]string{"-events-table", "ev"}, "inspect: required: -stream"},
		{[]string{"-events-table", "ev", "-stream", "s", "-state-table", ""}, "inspect: required: -state-table (or STATE_TABLE)"},
		{[]string{"-events-table", "ev", "-stream", "s"}, ""},
	} {
		c := newCommand("inspect")
		c.SetOutput(io.Discard)
		events := c.need("events-table", "EVENTS_TABLE", "events table")
		state := c.need("state-table", "STATE_TABLE", "stream state table")
		c.need("stream", "", "the stream id")
		_, err := c.parse(context.Background(), tc.args)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want):
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		case tc.want == "" && (*events != "ev" || *state != "state-from-env"):
			t.Errorf("%v: events %q, state %q: the environment is the default", tc.args, *events, *state)
		}
	}
	c := newCommand("inspect")
	c.SetOutput(io.Discard)
	if _, err := c.parse(context.Background(), []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
}
