package ops_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

func TestStatusTable(t *testing.T) {
	now := time.Date(2024, 4, 2, 12, 0, 0, 0, time.UTC)
	streams := []streamstate.Listed{
		{StreamID: "a2ae2143-62a1-4eee-b888-4f1406148481", WorkspaceID: "7c07598b", Status: "active", Since: "2024-04-02T11:58:55.500000000Z",
			SimulcastTargets: map[string]streamstate.ListedTarget{
				"t-2": {Status: "starting", Since: "2024-04-02T11:59:00.000000000Z"},
				"t-1": {Status: "broadcasting", Since: "2024-04-02T11:59:01.000000000Z"},
			}},
		{StreamID: "s-2", Status: "idle", Since: "2024-04-02T09:45:00.000000000Z"},
		{StreamID: "s-3", WorkspaceID: "w", Status: "disabled", Since: "2024-03-30T10:00:00.000000000Z"},
		{StreamID: "s-4", Status: "created", Since: "2024-04-02T11:59:30.000000000Z"},
		{StreamID: "s-5", Status: "idle", Since: "not a time"},
	}
	tests := []struct {
		name    string
		streams []streamstate.Listed
		more    bool
		want    string
	}{
		{name: "none", want: "no streams\n"},
		{
			name: "every column", streams: streams,
			want: "" +
				"STREAM                                WORKSPACE  STATUS    SINCE                             SIMULCAST TARGETS\n" +
				"a2ae2143-62a1-4eee-b888-4f1406148481  7c07598b   active    2024-04-02 11:58:55Z (1m04s ago)  t-1 broadcasting, t-2 starting\n" +
				"s-2                                   -          idle      2024-04-02 09:45:00Z (2h15m ago)  -\n" +
				"s-3                                   w          disabled  2024-03-30 10:00:00Z (3d02h ago)  -\n" +
				"s-4                                   -          created   2024-04-02 11:59:30Z (30s ago)    -\n" +
				"s-5                                   -          idle      not a time                        -\n",
		},
		{
			// Ids from a hostile payload: no column broken, no line forged,
			// nothing the terminal would act on.
			name: "hostile ids", streams: []streamstate.Listed{
				{StreamID: "s\tfake\nSTREAM x", WorkspaceID: "w\x1b[2J", Status: "idle", Since: "2024-04-02T11:59:30.000000000Z",
					SimulcastTargets: map[string]streamstate.ListedTarget{"t\u202e1": {Status: "on\r"}}},
			},
			want: "" +
				"STREAM             WORKSPACE  STATUS  SINCE                           SIMULCAST TARGETS\n" +
				"s\\tfake\\nSTREAM x  w\\x1b[2J   idle    2024-04-02 11:59:30Z (30s ago)  t\\u202e1 on\\r\n",
		},
		{
			name: "cut short", streams: streams[1:2], more: true,
			want: "" +
				"STREAM  WORKSPACE  STATUS  SINCE                             SIMULCAST TARGETS\n" +
				"s-2     -          idle    2024-04-02 09:45:00Z (2h15m ago)  -\n" +
				"(1 shown; more streams match: raise -n or narrow -status / -workspace)\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ops.StatusTable(tc.streams, tc.more, now); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// pagedFleet serves n streams in pages of the asked size, counting calls;
// failOn makes that call fail, cancelAfter cancels the context after that
// many calls.
type pagedFleet struct {
	n           int
	calls       int
	limits      []int
	failOn      int
	cancelAfter int
	cancel      context.CancelFunc
}

func (f *pagedFleet) List(_ context.Context, q streamstate.ListQuery) (streamstate.ListPage, error) {
	f.calls++
	f.limits = append(f.limits, q.Limit)
	if f.cancelAfter > 0 && f.calls >= f.cancelAfter {
		defer f.cancel()
	}
	if f.calls == f.failOn {
		return streamstate.ListPage{}, errors.New("connection refused")
	}
	start := 0
	if q.Cursor != "" {
		fmt.Sscanf(q.Cursor, "%d", &start)
	}
	var p streamstate.ListPage
	for i := start; i < f.n && len(p.Streams) < q.Limit; i++ {
		p.Streams = append(p.Streams, streamstate.Listed{StreamID: fmt.Sprintf("s-%03d", i), Status: "active", Since: "2024-04-02T11:00:00.000000000Z"})
	}
	if end := start + len(p.Streams); end < f.n {
		p.NextCursor = fmt.Sprint(end)
	}
	return p, nil
}

func TestStatusBoardShow(t *testing.T) {
	now := func() time.Time { return time.Date(2024, 4, 2, 12, 0, 0, 0, time.UTC) }
	tests := []struct {
		name       string
		streams    int
		rows       int
		wantRows   int
		wantLimits []int
		wantMore   bool
	}{
		{name: "all on one page", streams: 3, wantRows: 3, wantLimits: []int{100}},
		{name: "pages until the end", streams: 250, rows: 1000, wantRows: 250, wantLimits: []int{100, 100, 100}},
		{name: "bounded by -n", streams: 250, rows: 120, wantRows: 120, wantLimits: []int{100, 20}, wantMore: true},
		{name: "default bound", streams: 250, wantRows: ops.DefaultStatusRows, wantLimits: []int{100, 100}, wantMore: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &pagedFleet{n: tc.streams}
			var out strings.Builder
			b := &ops.StatusBoard{Fleet: f, Statuses: []string{"active"}, Rows: tc.rows, Out: &out, Now: now}
			if err := b.Show(context.Background()); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			rows := len(lines) - 1 // the header
			if tc.wantMore {
				rows--
				if !strings.Contains(lines[len(lines)-1], "more streams match") {
					t.Errorf("last line %q: want the list cut short said", lines[len(lines)-1])
				}
			}
			if rows != tc.wantRows || fmt.Sprint(f.limits) != fmt.Sprint(tc.wantLimits) {
				t.Errorf("%d rows with limits %v; want %d with %v", rows, f.limits, tc.wantRows, tc.wantLimits)
			}
		})
	}
}

func TestStatusBoardWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The second refresh fails; the watch reports it and goes on; the
	// fourth refresh ends it (as Ctrl-C would).
	f := &pagedFleet{n: 2, failOn: 2, cancelAfter: 4, cancel: cancel}
	var out strings.Builder
	b := &ops.StatusBoard{Fleet: f, Statuses: []string{"active", "idle"}, Out: &out}
	if err := b.Watch(ctx, time.Millisecond); err != nil {
		t.Fatalf("Watch = %v, want nil when stopped", err)
	}
	frames := strings.Split(out.String(), "\033[H\033[2J")[1:]
	if len(frames) != 3 || f.calls != 4 {
		t.Fatalf("%d frames after %d refreshes, want 3 after 4 (the cancelled one not drawn):\n%q", len(frames), f.calls, out.String())
	}
	for i, fr := range frames {
		if !strings.HasPrefix(fr, "active, idle  ") || !strings.Contains(fr, "Ctrl-C stops") {
			t.Errorf("frame %d header: %q", i, fr)
		}
		failed := strings.Contains(fr, "refresh failed, retrying: connection refused")
		if failed != (i == 1) || strings.Contains(fr, "s-001") == (i == 1) {
			t.Errorf("frame %d: %q", i, fr)
		}
	}
}

// The command as an operator runs it, against DynamoDB Local's state table
// through the byStatus index.
func TestRunStatusAgainstDynamoDBLocal(t *testing.T) {
	ddb := testenv.DynamoDB(t)
	table := testenv.CreateTable(t, ddb, "StreamStateTable")
	store := &streamstate.Store{Client: ddb, Table: table}
	ctx := context.Background()
	at := func(s int) string { return eventstore.FormatTime(time.Date(2024, 4, 2, 11, 0, s, 0, time.UTC)) }
	for _, u := range []streamstate.Update{
		{StreamID: "live-1", Status: "active", EventID: "e1", EventType: "video.live_stream.active", OccurredAt: at(1), WorkspaceID: "ws-a"},
		{StreamID: "live-1", SimulcastID: "yt", Status: "broadcasting", EventID: "e2", EventType: "video.live_stream.simulcast.broadcasting", OccurredAt: at(2)},
		{StreamID: "idle-1", Status: "idle", EventID: "e3", EventType: "video.live_stream.idle", OccurredAt: at(3), WorkspaceID: "ws-b"},
		{StreamID: "gone-1", Status: "deleted", EventID: "e4", EventType: "video.live_stream.deleted", OccurredAt: at(4), WorkspaceID: "ws-a"},
	} {
		if _, err := store.Apply(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	awsConfig := func(context.Context) (aws.Config, error) {
		cfg := testenv.AWSConfig()
		cfg.BaseEndpoint = aws.String(testenv.DynamoDBEndpoint(t))
		return cfg, nil
	}
	tests := []struct {
		name    string
		args    []string
		want    []string // rows, by stream id, in order
		wantErr string
	}{
		{name: "default: every status but deleted", args: []string{"-state-table", table}, want: []string{"idle-1", "live-1"}},
		{name: "live only", args: []string{"-state-table", table, "-status", "active"}, want: []string{"live-1"}},
		{name: "one workspace", args: []string{"-state-table", table, "-workspace", "ws-a", "-status", "active,deleted"}, want: []string{"gone-1", "live-1"}},
		{name: "unknown status", args: []string{"-state-table", table, "-status", "live"}, wantErr: `unknown status "live"`},
		{name: "no table", args: []string{"-status", "active"}, wantErr: "-state-table (or STATE_TABLE) is required"},
	}
	t.Setenv("STATE_TABLE", "")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			err := ops.RunStatus(ctx, tc.args, &out, awsConfig)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("RunStatus = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")[1:]
			var got []string
			for _, l := range lines {
				got = append(got, strings.Fields(l)[0])
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("rows %v, want %v:\n%s", got, tc.want, out.String())
			}
			if slices.Contains(tc.want, "live-1") && !strings.Contains(out.String(), "yt broadcasting") {
				t.Errorf("live-1's target missing:\n%s", out.String())
			}
		})
	}
}
