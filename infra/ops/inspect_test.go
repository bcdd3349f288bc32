package ops_test

import (
	"context"
	"strings"
	"testing"

	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
)

func TestInspect(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i, id := range []string{"i-created", "i-active", "i-down", "i-idle"} {
		typ := "video.live_stream." + strings.TrimPrefix(id, "i-")
		if id == "i-down" {
			typ = "video.live_stream.disconnected"
		}
		e.put(id, typ, "stream-i", i)
		if _, err := e.notifier.ApplyStream(ctx, "stream-i", []string{id}); err != nil {
			t.Fatal(err)
		}
	}
	in := &ops.Inspector{State: e.store, Events: &eventstore.Reader{Client: e.ddb, Table: e.events}, Out: &e.out}
	if err := in.Inspect(ctx, "stream-i", 3); err != nil {
		t.Fatal(err)
	}
	out := e.out.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{"stream stream-i: idle", "i-idle", "state written", "last 3 events", "i-active", "i-down", "i-idle", "(older events exist)"}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d %q lacks %q", i, lines[i], w)
		}
	}
	e.out.Reset()
	if err := in.Inspect(ctx, "no-such-stream", 5); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.out.String(), "no state") || !strings.Contains(e.out.String(), "last 0 events") {
		t.Errorf("unknown stream:\n%s", e.out.String())
	}
}
