package streamstate_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// queryCounter counts the Query requests a listing sends.
type queryCounter struct {
	*dynamodb.Client
	queries int
}

func (c *queryCounter) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.queries++
	return c.Client.Query(ctx, in, opts...)
}

// fleetTable is a state table as the template declares it, in DynamoDB
// Local, with what the listing needs to be written.
type fleetTable struct {
	client *dynamodb.Client
	name   string
	store  *streamstate.Store
}

func newFleetTable(t *testing.T) *fleetTable {
	t.Helper()
	client := testenv.DynamoDB(t)
	name := testenv.CreateTable(t, client, "StreamStateTable")
	return &fleetTable{client: client, name: name, store: &streamstate.Store{Client: client, Table: name}}
}

var fleetBase = time.Date(2024, 4, 2, 11, 17, 52, 722812836, time.UTC)

// fleetAt is the base time plus n seconds, in the state's time format.
func fleetAt(n int) string {
	return eventstore.FormatTime(fleetBase.Add(time.Duration(n) * time.Second))
}

// set moves a stream to status at time n (seconds), in workspace ws, as the
// notifier's update does.
func (f *fleetTable) set(t *testing.T, stream, ws, status string, n int) {
	t.Helper()
	u := streamstate.Update{StreamID: stream, Status: status, EventID: fmt.Sprintf("ev-%s-%d", stream, n),
		EventType: "video.live_stream." + status, OccurredAt: fleetAt(n), WorkspaceID: ws}
	if _, err := f.store.Apply(context.Background(), u); err != nil {
		t.Fatalf("apply %s %s: %v", stream, status, err)
	}
}

// listAll follows cursors to the end, checking each page's order and
// that no stream shows up twice; full says every page but the last must be
// full (no workspace filter).
func listAll(t *testing.T, lister streamstate.Lister, q streamstate.ListQuery, full bool) []streamstate.Listed {
	t.Helper()
	var all []streamstate.Listed
	seen := map[string]bool{}
	for pages := 1; ; pages++ {
		if pages > 1000 {
			t.Fatal("more than 1000 pages: the cursor does not move")
		}
		p, err := lister.List(context.Background(), q)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		for _, l := range p.Streams {
			if seen[l.StreamID] {
				t.Fatalf("page %d: stream %s listed twice", pages, l.StreamID)
			}
			seen[l.StreamID] = true
			if !slices.Contains(q.Statuses, l.Status) {
				t.Fatalf("page %d: stream %s in status %s, not one of %v", pages, l.StreamID, l.Status, q.Statuses)
			}
		}
		all = append(all, p.Streams...)
		if p.NextCursor == "" {
			return all
		}
		limit := q.Limit
		if limit == 0 {
			limit = streamstate.DefaultListLimit
		}
		if full && len(p.Streams) != limit {
			t.Fatalf("page %d has %d streams and a cursor; want %d", pages, len(p.Streams), limit)
		}
		q.Cursor = p.NextCursor
	}
}

func ids(ls []streamstate.Listed) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.StreamID
	}
	return out
}

// newestFirst reports whether ls is ordered most recent first.
func newestFirst(ls []streamstate.Listed) bool {
	return slices.IsSortedFunc(ls, func(a, b streamstate.Listed) int { return strings.Compare(b.Since, a.Since) })
}

func TestListPagesThroughEveryStreamOnce(t *testing.T) {
	f := newFleetTable(t)
	// 40 streams over three statuses, several sharing a time, so that ties
	// fall inside pages and on their edges, in one status and across.
	want := map[string]string{} // stream → status
	statuses := []string{"active", "idle", "disconnected"}
	for i := range 40 {
		s := fmt.Sprintf("stream-%02d", i)
		status := statuses[i%3]
		f.set(t, s, "ws-1", status, i/4)
		want[s] = status
	}
	// A stream with only a simulcast target event has no status: it is not
	// in the sparse index.
	if _, err := f.store.Apply(context.Background(), streamstate.Update{StreamID: "no-status", SimulcastID: "t-1", Status: "starting",
		EventID: "ev-t", EventType: "video.live_stream.simulcast.starting", OccurredAt: fleetAt(100)}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		statuses []string
		limit    int
	}{
		{[]string{"active"}, 1},
		{[]string{"active"}, 0},
		{[]string{"active", "idle"}, 3},
		{[]string{"idle", "active"}, 4},
		{[]string{"active", "idle", "disconnected"}, 7},
		{[]string{"active", "idle", "disconnected"}, 100},
		{[]string{"created"}, 5},
	} {
		t.Run(fmt.Sprintf("%s by %d", strings.Join(tc.statuses, ","), tc.limit), func(t *testing.T) {
			counter := &queryCounter{Client: f.client}
			fleet := &streamstate.Fleet{Client: counter, Table: f.name}
			got := listAll(t, fleet, streamstate.ListQuery{Statuses: tc.statuses, Limit: tc.limit}, true)
			var wantIDs []string
			for s, status := range want {
				if slices.Contains(tc.statuses, status) {
					wantIDs = append(wantIDs, s)
				}
			}
			gotIDs := ids(got)
			slices.Sort(gotIDs)
			slices.Sort(wantIDs)
			if !slices.Equal(gotIDs, wantIDs) {
				t.Fatalf("listed %v\nwant %v", gotIDs, wantIDs)
			}
			if !newestFirst(got) {
				t.Errorf("not most recent first: %v", got)
			}
			limit := max(tc.limit, 1)
			if tc.limit == 0 {
				limit = streamstate.DefaultListLimit
			}
			pages := max(1, (len(wantIDs)+limit-1)/limit)
			if counter.queries > pages*len(tc.statuses) {
				t.Errorf("%d Query requests for %d pages of %d statuses; want at most one per status per page", counter.queries, pages, len(tc.statuses))
			}
		})
	}
}

func TestListShowsTargetsAndWorkspace(t *testing.T) {
	f := newFleetTable(t)
	f.set(t, "s-1", "ws-1", "active", 1)
	for _, u := range []streamstate.Update{
		{StreamID: "s-1", SimulcastID: "t-1", Status: "broadcasting", EventID: "ev-t1", EventType: "video.live_stream.simulcast.broadcasting", OccurredAt: fleetAt(2)},
		{StreamID: "s-1", SimulcastID: "t-2", Status: "starting", EventID: "ev-t2", EventType: "video.live_stream.simulcast.starting", OccurredAt: fleetAt(3)},
	} {
		if _, err := f.store.Apply(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	p, err := (&streamstate.Fleet{Client: f.client, Table: f.name}).List(context.Background(), streamstate.ListQuery{Statuses: []string{"active"}})
	if err != nil {
		t.Fatal(err)
	}
	want := streamstate.Listed{StreamID: "s-1", WorkspaceID: "ws-1", Status: "active", Since: fleetAt(1), SimulcastTargets: map[string]streamstate.ListedTarget{
		"t-1": {Status: "broadcasting", Since: fleetAt(2)},
		"t-2": {Status: "starting", Since: fleetAt(3)},
	}}
	if len(p.Streams) != 1 || p.NextCursor != "" {
		t.Fatalf("page = %+v, want one stream and no cursor", p)
	}
	got := p.Streams[0]
	if got.StreamID != want.StreamID || got.WorkspaceID != want.WorkspaceID || got.Status != want.Status || got.Since != want.Since ||
		len(got.SimulcastTargets) != 2 || got.SimulcastTargets["t-1"] != want.SimulcastTargets["t-1"] || got.SimulcastTargets["t-2"] != want.SimulcastTargets["t-2"] {
		t.Errorf("listed %+v\nwant %+v", got, want)
	}
}

func TestListWorkspace(t *testing.T) {
	f := newFleetTable(t)
	// A small workspace among a large one: its streams are rare in the
	// index, so pages are short, yet paging finds every one of them.
	var wantA []string
	for i := range 30 {
		s, ws := fmt.Sprintf("s-%02d", i), "ws-big"
		if i%7 == 3 {
			ws = "ws-small"
			wantA = append(wantA, s)
		}
		f.set(t, s, ws, []string{"active", "idle"}[i%2], i)
	}
	fleet := &streamstate.Fleet{Client: f.client, Table: f.name}
	for _, limit := range []int{1, 2, 25} {
		got := listAll(t, fleet, streamstate.ListQuery{Statuses: []string{"active", "idle"}, WorkspaceID: "ws-small", Limit: limit}, false)
		for _, l := range got {
			if l.WorkspaceID != "ws-small" {
				t.Errorf("limit %d: stream %s of workspace %s listed", limit, l.StreamID, l.WorkspaceID)
			}
		}
		gotIDs := ids(got)
		slices.Sort(gotIDs)
		if !slices.Equal(gotIDs, wantA) {
			t.Errorf("limit %d: listed %v, want %v", limit, gotIDs, wantA)
		}
		if !newestFirst(got) {
			t.Errorf("limit %d: not most recent first", limit)
		}
	}
	got := listAll(t, fleet, streamstate.ListQuery{Statuses: []string{"active"}, WorkspaceID: "ws-none"}, false)
	if len(got) != 0 {
		t.Errorf("unknown workspace listed %v", ids(got))
	}
}

func TestListAsStreamsChange(t *testing.T) {
	f := newFleetTable(t)
	for i := range 10 {
		f.set(t, fmt.Sprintf("s-%d", i), "ws-1", "active", i) // s-9 newest
	}
	fleet := &streamstate.Fleet{Client: f.client, Table: f.name}
	ctx := context.Background()
	active := streamstate.ListQuery{Statuses: []string{"active"}, Limit: 4}
	p1, err := fleet.List(ctx, active)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(p1.Streams); !slices.Equal(got, []string{"s-9", "s-8", "s-7", "s-6"}) {
		t.Fatalf("first page %v", got)
	}
	// Between pages: a listed stream and a not yet listed one go idle, a
	// listed one disconnects and comes back live.
	f.set(t, "s-8", "ws-1", "idle", 20)
	f.set(t, "s-2", "ws-1", "idle", 21)
	f.set(t, "s-7", "ws-1", "disconnected", 22)
	f.set(t, "s-7", "ws-1", "active", 23)
	active.Cursor = p1.NextCursor
	rest := listAll(t, fleet, active, true)
	// s-2 moved away before its page, s-7 moved above the cursor: neither
	// is listed (again); the feed tells a watcher about both.
	if got := ids(rest); !slices.Equal(got, []string{"s-5", "s-4", "s-3", "s-1", "s-0"}) {
		t.Errorf("rest of the walk %v", got)
	}
	// A new listing shows every stream where it is now.
	fresh := listAll(t, fleet, streamstate.ListQuery{Statuses: []string{"active"}, Limit: 4}, true)
	if got := ids(fresh); !slices.Equal(got, []string{"s-7", "s-9", "s-6", "s-5", "s-4", "s-3", "s-1", "s-0"}) {
		t.Errorf("active now %v", got)
	}
	idle := listAll(t, fleet, streamstate.ListQuery{Statuses: []string{"idle", "disconnected"}}, true)
	if got := ids(idle); !slices.Equal(got, []string{"s-2", "s-8"}) {
		t.Errorf("idle or disconnected now %v", got)
	}
}

func TestListBadQueries(t *testing.T) {
	f := newFleetTable(t)
	for i := range 5 {
		f.set(t, fmt.Sprintf("s-%d", i), "ws-1", "active", i)
	}
	fleet := &streamstate.Fleet{Client: f.client, Table: f.name}
	ctx := context.Background()
	p, err := fleet.List(ctx, streamstate.ListQuery{Statuses: []string{"active"}, Limit: 2})
	if err != nil || p.NextCursor == "" {
		t.Fatalf("first page: %v, cursor %q", err, p.NextCursor)
	}
	cursor := p.NextCursor
	tests := []struct {
		name string
		q    streamstate.ListQuery
		want error
	}{
		{"no status", streamstate.ListQuery{}, streamstate.ErrBadListQuery},
		{"unknown status", streamstate.ListQuery{Statuses: []string{"active", "live"}}, streamstate.ErrBadListQuery},
		{"simulcast status", streamstate.ListQuery{Statuses: []string{"broadcasting"}}, streamstate.ErrBadListQuery},
		{"negative limit", streamstate.ListQuery{Statuses: []string{"active"}, Limit: -1}, streamstate.ErrBadListQuery},
		{"limit too large", streamstate.ListQuery{Statuses: []string{"active"}, Limit: streamstate.MaxListLimit + 1}, streamstate.ErrBadListQuery},
		{"cursor not base64", streamstate.ListQuery{Statuses: []string{"active"}, Cursor: "!!"}, streamstate.ErrBadListCursor},
		{"cursor not JSON", streamstate.ListQuery{Statuses: []string{"active"}, Cursor: "bm90IGpzb24"}, streamstate.ErrBadListCursor},
		{"cursor of other statuses", streamstate.ListQuery{Statuses: []string{"active", "idle"}, Cursor: cursor}, streamstate.ErrBadListCursor},
		{"cursor of another workspace", streamstate.ListQuery{Statuses: []string{"active"}, WorkspaceID: "ws-1", Cursor: cursor}, streamstate.ErrBadListCursor},
		{"cursor edited", streamstate.ListQuery{Statuses: []string{"active"}, Cursor: cursor[:len(cursor)-4]}, streamstate.ErrBadListCursor},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fleet.List(ctx, tc.q)
			if !errors.Is(err, tc.want) {
				t.Errorf("List = %v, want %v", err, tc.want)
			}
		})
	}
	// The same statuses in another order and with a repeat are the same
	// listing: its cursor is accepted.
	if _, err := fleet.List(ctx, streamstate.ListQuery{Statuses: []string{"active", "active"}, Limit: 2, Cursor: cursor}); err != nil {
		t.Errorf("same listing, statuses repeated: %v", err)
	}
}

func TestListStoreDown(t *testing.T) {
	fleet := &streamstate.Fleet{Client: testenv.DynamoDB(t), Table: "no-such-table"}
	_, err := fleet.List(context.Background(), streamstate.ListQuery{Statuses: []string{"active"}})
	if err == nil || errors.Is(err, streamstate.ErrBadListQuery) || errors.Is(err, streamstate.ErrBadListCursor) {
		t.Fatalf("List on a missing table = %v, want a store error", err)
	}
}

// Streams at the bound of simulcast targets make items of about 150 KB:
// DynamoDB ends a Query page at 1 MB, before the limit, so pages are short,
// yet paging to the end returns every stream once and the answer stays
// bounded.
func TestListPagesOfHugeItems(t *testing.T) {
	f := newFleetTable(t)
	ctx := context.Background()
	const streams = 12
	for i := range streams {
		targets := make(map[string]types.AttributeValue, streamstate.MaxSimulcastTargets)
		for j := range streamstate.MaxSimulcastTargets {
			targets[fmt.Sprintf("target-%04d-%s", j, strings.Repeat("x", 24))] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				streamstate.AttrStatus:         &types.AttributeValueMemberS{Value: "broadcasting"},
				streamstate.AttrLastEventID:    &types.AttributeValueMemberS{Value: fmt.Sprintf("ev-%s-%04d-%04d", strings.Repeat("e", 24), i, j)},
				streamstate.AttrLastEventType:  &types.AttributeValueMemberS{Value: "video.live_stream.simulcast_target.broadcasting"},
				streamstate.AttrLastOccurredAt: &types.AttributeValueMemberS{Value: fleetAt(j)},
				streamstate.AttrStatusOrder:    &types.AttributeValueMemberS{Value: fleetAt(j) + "/03"},
				streamstate.AttrUpdatedAt:      &types.AttributeValueMemberS{Value: fleetAt(j)},
			}}
		}
		_, err := f.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(f.name), Item: map[string]types.AttributeValue{
			streamstate.KeyStreamID:          &types.AttributeValueMemberS{Value: fmt.Sprintf("big-%02d", i)},
			streamstate.AttrStatus:           &types.AttributeValueMemberS{Value: "active"},
			streamstate.AttrLastOccurredAt:   &types.AttributeValueMemberS{Value: fleetAt(1000 + i)},
			streamstate.AttrSimulcastTargets: &types.AttributeValueMemberM{Value: targets},
		}})
		if err != nil {
			t.Fatalf("put big-%02d: %v", i, err)
		}
	}
	fleet := &streamstate.Fleet{Client: f.client, Table: f.name}
	p, err := fleet.List(ctx, streamstate.ListQuery{Statuses: []string{"active"}, Limit: streamstate.MaxListLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Streams) == 0 || len(p.Streams) >= streams || p.NextCursor == "" {
		t.Fatalf("first page: %d streams, cursor %q; want a page cut short by DynamoDB's 1 MB, with a cursor", len(p.Streams), p.NextCursor)
	}
	for _, l := range p.Streams {
		if len(l.SimulcastTargets) != streamstate.MaxSimulcastTargets {
			t.Fatalf("stream %s lists %d targets, want %d", l.StreamID, len(l.SimulcastTargets), streamstate.MaxSimulcastTargets)
		}
	}
	got := ids(listAll(t, fleet, streamstate.ListQuery{Statuses: []string{"active", "idle"}, Limit: streamstate.MaxListLimit}, false))
	if len(got) != streams {
		t.Fatalf("listed %d streams, want %d: %v", len(got), streams, got)
	}
	for i, id := range got {
		if want := fmt.Sprintf("big-%02d", streams-1-i); id != want {
			t.Fatalf("position %d: %s, want %s (most recent first)", i, id, want)
		}
	}
}

// The listing says what the rules add to a status, as the change feed
// does: a held drop with the end of its grace, an unstable session.
func TestListShowsTheRulesMark(t *testing.T) {
	f := newFleetTable(t)
	ctx := context.Background()
	f.set(t, "held", "ws-1", "disconnected", 1)
	f.set(t, "flapping", "ws-1", "active", 2)
	f.set(t, "quiet", "ws-1", "active", 3)
	due := fleetBase.Add(31 * time.Second)
	for id, m := range map[string]alertrules.Memory{
		"held":     {LiveSince: fleetBase, Held: &alertrules.Held{EventID: "ev-held-1", OccurredAt: fleetBase.Add(time.Second), Due: due}},
		"flapping": {LiveSince: fleetBase, UnstableAt: fleetBase.Add(2 * time.Second)},
		"quiet":    {LiveSince: fleetBase},
	} {
		st, err := f.store.Load(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		st.SetMemory(m)
		if err := f.store.Save(ctx, &st); err != nil {
			t.Fatal(err)
		}
	}
	p, err := (&streamstate.Fleet{Client: f.client, Table: f.name}).List(ctx, streamstate.ListQuery{Statuses: []string{"active", "disconnected"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, l := range p.Streams {
		got[l.StreamID] = l.Mark + " " + l.HeldUntil
	}
	want := map[string]string{"held": "held " + eventstore.FormatTime(due), "flapping": "unstable ", "quiet": " "}
	if !maps.Equal(got, want) {
		t.Errorf("marks %q, want %q", got, want)
	}
}
