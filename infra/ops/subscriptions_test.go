package ops_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/filterpolicy"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

func TestEndpointCheck(t *testing.T) {
	cases := []struct {
		ep ops.Endpoint
		ok bool
	}{
		{ops.Endpoint{"email", "oncall@league.example.com"}, true},
		{ops.Endpoint{"email", "first.last+alerts@example.co.uk"}, true},
		{ops.Endpoint{"email", "Producer <p@example.com>"}, false},
		{ops.Endpoint{"email", "p@example"}, false},
		{ops.Endpoint{"email", "p@@example.com"}, false},
		{ops.Endpoint{"email", "p@example.com\nBcc: x@evil.example"}, false},
		{ops.Endpoint{"email", "<script>@example.com"}, false},
		{ops.Endpoint{"email", strings.Repeat("a", 65) + "@example.com"}, false},
		{ops.Endpoint{"email", ""}, false},
		{ops.Endpoint{"sms", "+14155550123"}, true},
		{ops.Endpoint{"sms", "+447700900123"}, true},
		{ops.Endpoint{"sms", "4155550123"}, false},
		{ops.Endpoint{"sms", "+1 415 555 0123"}, false},
		{ops.Endpoint{"sms", "+04155550123"}, false},
		{ops.Endpoint{"sms", "+1234567890123456"}, false},
		{ops.Endpoint{"https", "https://chat.example.com/hook/abc"}, true},
		{ops.Endpoint{"https", "http://chat.example.com/hook"}, false},
		{ops.Endpoint{"https", "https://user:secret@chat.example.com/hook"}, false},
		{ops.Endpoint{"https", "javascript:alert(1)"}, false},
		{ops.Endpoint{"https", "https:///nohost"}, false},
		{ops.Endpoint{"https", "https://example.com/#frag"}, false},
		{ops.Endpoint{"sqs", "arn:aws:sqs:us-east-1:1:q"}, false},
	}
	for _, c := range cases {
		t.Run(c.ep.Protocol+" "+c.ep.Address, func(t *testing.T) {
			err := c.ep.Check()
			if (err == nil) != c.ok {
				t.Fatalf("Check() = %v, want ok=%v", err, c.ok)
			}
			if err != nil && !errors.Is(err, ops.ErrBadEndpoint) {
				t.Fatalf("error %v is not ErrBadEndpoint", err)
			}
		})
	}
}

func TestKindTopics(t *testing.T) {
	routes := alerts.Routes{
		"video.live_stream.active":                        "arn:aws:sns:us-east-1:1:Live",
		"video.live_stream.disconnected":                  "arn:aws:sns:us-east-1:1:Down",
		"video.live_stream.simulcast.broadcasting":        "arn:aws:sns:us-east-1:1:Sim",
		"video.live_stream.simulcast_target.broadcasting": "arn:aws:sns:us-east-1:1:Sim",
	}
	got := ops.KindTopics(routes)
	want := map[string]string{"live": "Live", "recovered": "Live", "disconnected": "Down", "unstable": "Down", "simulcast": "Sim"}
	for k, topic := range want {
		if len(got[k]) != 1 || !strings.HasSuffix(got[k][0], ":"+topic) {
			t.Errorf("%s → %v, want [%s]", k, got[k], topic)
		}
	}
	if topics := ops.AlertTopics(routes); len(topics) != 3 {
		t.Errorf("AlertTopics = %v", topics)
	}
}

// directory is the workspaces the receiver knows, for the tests that are
// about SNS (FleetDirectory is tested against DynamoDB Local below).
type directory map[string][]string

func (d directory) Streams(_ context.Context, ws string) ([]string, error) { return d[ws], nil }

// routingEnv is three alert topics in goaws, routed as the template routes.
type routingEnv struct {
	client              *sns.Client
	live, down, sim     string
	routes              alerts.Routes
	routing             *ops.Routing
	ctx                 context.Context
	league, church, all directory
}

func newRoutingEnv(t *testing.T) *routingEnv {
	t.Helper()
	e := &routingEnv{client: testenv.SNS(t), ctx: context.Background()}
	e.live = testenv.CreateTopic(t, e.client, "StreamLive")
	e.down = testenv.CreateTopic(t, e.client, "StreamDown")
	e.sim = testenv.CreateTopic(t, e.client, "Simulcast")
	e.routes = alerts.Routes{
		"video.live_stream.active":                        e.live,
		"video.live_stream.disconnected":                  e.down,
		"video.live_stream.simulcast_target.broadcasting": e.sim,
	}
	e.routing = &ops.Routing{SNS: e.client, Routes: e.routes, Directory: directory{"ws-league": {"st-final", "st-semi"}, "ws-church": {"st-sunday"}}}
	return e
}

// snapshot is every subscription of the alert topics, as SNS lists them,
// with its policy: what "SNS unchanged" is checked against.
func (e *routingEnv) snapshot(t *testing.T) []string {
	t.Helper()
	subs, err := e.routing.List(e.ctx)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	out := make([]string, len(subs))
	for i, s := range subs {
		out[i] = fmt.Sprintf("%s %s %s %s %s", s.TopicARN, s.ARN, s.Protocol, s.Address, s.Policy)
	}
	slices.Sort(out)
	return out
}

func TestSubscribeCreatesPoliciesPerTopic(t *testing.T) {
	e := newRoutingEnv(t)
	plan, err := e.routing.Check(e.ctx, ops.Endpoint{"email", "oncall@league.example.com"}, ops.Selection{WorkspaceID: "ws-league", Kinds: []string{"unstable", "disconnected", "live"}})
	if err != nil {
		t.Fatal(err)
	}
	made, err := e.routing.Subscribe(e.ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	if len(made) != 2 {
		t.Fatalf("made %d subscriptions, want 2 (live topic, disconnected topic): %+v", len(made), made)
	}
	// What SNS itself says, subscription by subscription.
	want := map[string]string{
		e.live: `{"kind":["live"],"workspaceId":["ws-league"]}`,
		e.down: `{"kind":["disconnected","unstable"],"workspaceId":["ws-league"]}`,
	}
	for _, s := range made {
		attrs, err := e.client.GetSubscriptionAttributes(e.ctx, &sns.GetSubscriptionAttributesInput{SubscriptionArn: aws.String(s.ARN)})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := filterpolicy.Canonical(attrs.Attributes["FilterPolicy"])
		if got != want[s.TopicARN] {
			t.Errorf("%s: SNS has policy %s, want %s", s.TopicARN, got, want[s.TopicARN])
		}
		if attrs.Attributes["Protocol"] != "email" || attrs.Attributes["Endpoint"] != "oncall@league.example.com" {
			t.Errorf("attributes %v", attrs.Attributes)
		}
	}
	if subs, _ := e.routing.List(e.ctx); len(subs) != 2 {
		t.Fatalf("listed %d subscriptions, want 2", len(subs))
	}
	// Streams narrow the policy.
	plan, err = e.routing.Check(e.ctx, ops.Endpoint{"sms", "+14155550123"}, ops.Selection{WorkspaceID: "ws-league", StreamIDs: []string{"st-final"}, Kinds: []string{"simulcast"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Topics) != 1 || plan.Topics[0].Policy != `{"kind":["simulcast"],"streamId":["st-final"],"workspaceId":["ws-league"]}` {
		t.Fatalf("plan %+v", plan.Topics)
	}
}

func TestRefusalsLeaveSNSUnchanged(t *testing.T) {
	e := newRoutingEnv(t)
	// One existing routed subscription and the template's catch-all.
	plan, err := e.routing.Check(e.ctx, ops.Endpoint{"email", "producer@example.com"}, ops.Selection{WorkspaceID: "ws-league", Kinds: []string{"disconnected"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.routing.Subscribe(e.ctx, plan); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Subscribe(e.ctx, &sns.SubscribeInput{TopicArn: aws.String(e.down), Protocol: aws.String("email"), Endpoint: aws.String("catchall@example.com")}); err != nil {
		t.Fatal(err)
	}
	manyStreams := make([]string, 76)
	for i := range manyStreams {
		manyStreams[i] = fmt.Sprintf("st-%03d", i)
	}
	e.routing.Directory = directory{"ws-league": append([]string{"st-final"}, manyStreams...), "ws-church": {"st-sunday"}}
	before := e.snapshot(t)
	cases := []struct {
		name string
		ep   ops.Endpoint
		sel  ops.Selection
		want error
		says string
	}{
		{"malformed email", ops.Endpoint{"email", "not-an-address"}, ops.Selection{WorkspaceID: "ws-league"}, ops.ErrBadEndpoint, "name@example.com"},
		{"phone not E.164", ops.Endpoint{"sms", "0415 555 0123"}, ops.Selection{WorkspaceID: "ws-league"}, ops.ErrBadEndpoint, "+14155550123"},
		{"http, not https", ops.Endpoint{"https", "http://hooks.example.com/x"}, ops.Selection{WorkspaceID: "ws-league"}, ops.ErrBadEndpoint, "https://"},
		{"no workspace", ops.Endpoint{"email", "a@example.com"}, ops.Selection{}, ops.ErrBadSelection, "-workspace"},
		{"unknown kind", ops.Endpoint{"email", "a@example.com"}, ops.Selection{WorkspaceID: "ws-league", Kinds: []string{"offline"}}, ops.ErrBadSelection, "live, disconnected, recovered, unstable, simulcast"},
		{"unknown workspace", ops.Endpoint{"email", "a@example.com"}, ops.Selection{WorkspaceID: "ws-nope"}, ops.ErrUnknownWorkspace, "-allow-new"},
		{"stream of another workspace", ops.Endpoint{"email", "a@example.com"}, ops.Selection{WorkspaceID: "ws-league", StreamIDs: []string{"st-sunday"}}, ops.ErrUnknownWorkspace, "st-sunday"},
		{"over 150 combinations", ops.Endpoint{"email", "a@example.com"}, ops.Selection{WorkspaceID: "ws-league", StreamIDs: manyStreams, Kinds: []string{"live", "recovered"}}, filterpolicy.ErrTooManyCombinations, "fewer streams"},
		{"same subscription again", ops.Endpoint{"email", "producer@example.com"}, ops.Selection{WorkspaceID: "ws-league", Kinds: []string{"disconnected"}}, ops.ErrDuplicate, "nothing to do"},
		{"same endpoint, other selection", ops.Endpoint{"email", "producer@example.com"}, ops.Selection{WorkspaceID: "ws-league", Kinds: []string{"disconnected", "unstable"}}, ops.ErrDuplicate, "unsubscribe that one first"},
		{"same subscription among other kinds", ops.Endpoint{"email", "producer@example.com"}, ops.Selection{WorkspaceID: "ws-league", Kinds: []string{"live", "disconnected"}}, ops.ErrDuplicate, "subscribe with only those"},
		{"the catch-all's endpoint", ops.Endpoint{"email", "catchall@example.com"}, ops.Selection{WorkspaceID: "ws-church", Kinds: []string{"unstable"}}, ops.ErrDuplicate, "every alert"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan, err := e.routing.Check(e.ctx, c.ep, c.sel)
			if err == nil {
				_, err = e.routing.Subscribe(e.ctx, plan)
				t.Fatalf("Check accepted %+v %+v (Subscribe: %v)", c.ep, c.sel, err)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Errorf("error %q does not say what to change (%q)", err, c.says)
			}
			if after := e.snapshot(t); !slices.Equal(after, before) {
				t.Fatalf("SNS changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

func TestTopicFullIsRefused(t *testing.T) {
	e := newRoutingEnv(t)
	for i := range filterpolicy.MaxPerTopic {
		if _, err := e.client.Subscribe(e.ctx, &sns.SubscribeInput{
			TopicArn: aws.String(e.sim), Protocol: aws.String("email"), Endpoint: aws.String(fmt.Sprintf("p%03d@example.com", i)),
			Attributes: map[string]string{"FilterPolicy": `{"workspaceId":["ws-league"]}`},
		}); err != nil {
			t.Fatal(err)
		}
	}
	before := e.snapshot(t)
	_, err := e.routing.Check(e.ctx, ops.Endpoint{"email", "one-more@example.com"}, ops.Selection{WorkspaceID: "ws-league", Kinds: []string{"live", "simulcast"}})
	if !errors.Is(err, ops.ErrTopicFull) || !strings.Contains(err.Error(), "200") {
		t.Fatalf("Check = %v, want ErrTopicFull naming 200", err)
	}
	if after := e.snapshot(t); !slices.Equal(after, before) {
		t.Fatal("SNS changed")
	}
	out := ops.SubscriptionsTable(mustList(t, e), ops.AlertTopics(e.routes))
	if !strings.Contains(out, ": 200 of 200 filter policies") {
		t.Errorf("the table does not show the topic at its limit:\n%s", out[len(out)-200:])
	}
}

func mustList(t *testing.T, e *routingEnv) []ops.Subscription {
	t.Helper()
	subs, err := e.routing.List(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return subs
}

// failingSNS is goaws, except that the Subscribe calls after the first
// ok ones fail, as SNS does when an account's quota is reached.
type failingSNS struct {
	*sns.Client
	ok          int32
	calls       atomic.Int32
	unsubscribe error
}

func (f *failingSNS) Subscribe(ctx context.Context, in *sns.SubscribeInput, opts ...func(*sns.Options)) (*sns.SubscribeOutput, error) {
	if f.calls.Add(1) > f.ok {
		return nil, errors.New("FilterPolicyLimitExceeded: too many filter policies in the account")
	}
	return f.Client.Subscribe(ctx, in, opts...)
}

func (f *failingSNS) Unsubscribe(ctx context.Context, in *sns.UnsubscribeInput, opts ...func(*sns.Options)) (*sns.UnsubscribeOutput, error) {
	if f.unsubscribe != nil {
		return nil, f.unsubscribe
	}
	return f.Client.Unsubscribe(ctx, in, opts...)
}

func TestSubscribeIsAllOrNothing(t *testing.T) {
	e := newRoutingEnv(t)
	before := e.snapshot(t)
	f := &failingSNS{Client: e.client, ok: 2}
	r := &ops.Routing{SNS: f, Routes: e.routes, Directory: e.routing.Directory}
	plan, err := r.Check(e.ctx, ops.Endpoint{"email", "team@example.com"}, ops.Selection{WorkspaceID: "ws-church"})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Topics) != 3 {
		t.Fatalf("plan has %d topics, want 3", len(plan.Topics))
	}
	if _, err := r.Subscribe(e.ctx, plan); !errors.Is(err, ops.ErrUndone) {
		t.Fatalf("Subscribe = %v, want ErrUndone", err)
	}
	if f.calls.Load() != 3 {
		t.Fatalf("%d Subscribe calls, want 3 (two made, the third failed)", f.calls.Load())
	}
	if after := e.snapshot(t); !slices.Equal(after, before) {
		t.Fatalf("SNS changed:\nbefore %v\nafter  %v", before, after)
	}
}

func TestSubscribeUndoFailureNamesWhatIsLeft(t *testing.T) {
	e := newRoutingEnv(t)
	f := &failingSNS{Client: e.client, ok: 1, unsubscribe: errors.New("throttled")}
	r := &ops.Routing{SNS: f, Routes: e.routes}
	plan, err := r.Check(e.ctx, ops.Endpoint{"email", "team@example.com"}, ops.Selection{WorkspaceID: "ws-church", Kinds: []string{"live", "disconnected"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Subscribe(e.ctx, plan)
	left := mustList(t, e)
	if len(left) != 1 || !errors.Is(err, ops.ErrUndone) || !strings.Contains(err.Error(), left[0].ARN) || !strings.Contains(err.Error(), "remove it by hand") {
		t.Fatalf("err %v; left %+v: the error must name the subscription that could not be removed", err, left)
	}
}

func TestUnsubscribe(t *testing.T) {
	e := newRoutingEnv(t)
	plan, err := e.routing.Check(e.ctx, ops.Endpoint{"sms", "+14155550123"}, ops.Selection{WorkspaceID: "ws-league", Kinds: []string{"disconnected"}})
	if err != nil {
		t.Fatal(err)
	}
	made, err := e.routing.Subscribe(e.ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	catchAll, err := e.client.Subscribe(e.ctx, &sns.SubscribeInput{TopicArn: aws.String(e.down), Protocol: aws.String("email"), Endpoint: aws.String("catchall@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	before := e.snapshot(t)
	for _, arn := range []string{aws.ToString(catchAll.SubscriptionArn), e.down + ":no-such-subscription"} {
		if _, err := e.routing.Unsubscribe(e.ctx, arn); !errors.Is(err, ops.ErrNotOurs) {
			t.Errorf("Unsubscribe(%s) = %v, want ErrNotOurs", arn, err)
		}
	}
	if after := e.snapshot(t); !slices.Equal(after, before) {
		t.Fatal("a refused unsubscribe changed SNS")
	}
	s, err := e.routing.Unsubscribe(e.ctx, made[0].ARN)
	if err != nil || s.Address != "+14155550123" {
		t.Fatalf("Unsubscribe = %+v, %v", s, err)
	}
	if after := e.snapshot(t); len(after) != 1 || !strings.Contains(after[0], "catchall@example.com") {
		t.Fatalf("left %v, want the catch-all only", after)
	}
}

func TestSubscriptionsTable(t *testing.T) {
	topics := []string{"arn:aws:sns:us-east-1:1:StreamLiveTopic", "arn:aws:sns:us-east-1:1:StreamDisconnectedTopic"}
	subs := []ops.Subscription{
		{TopicARN: topics[1], ARN: topics[1] + ":a1", Endpoint: ops.Endpoint{"sms", "+14155550123"}, Policy: `{"kind":["disconnected","unstable"],"workspaceId":["ws-league"]}`},
		{TopicARN: topics[1], ARN: topics[1] + ":a2", Endpoint: ops.Endpoint{"email", "all@example.com"}},
		{TopicARN: topics[0], ARN: "PendingConfirmation", Endpoint: ops.Endpoint{"email", "new\t<b>@example.com"}},
		{TopicARN: topics[0], ARN: topics[0] + ":a3", Endpoint: ops.Endpoint{"https", "https://hooks.example.com/x"}, Policy: `{"workspaceId":[{"prefix":"ws-"}],"streamId":["st-1","st-2"]}`},
	}
	got := ops.SubscriptionsTable(subs, topics)
	for _, line := range []string{
		"StreamDisconnectedTopic  sms       +14155550123",
		"ws-league  all        disconnected,unstable",
		"all@example.com              all        all        all",
		"new <b>@example.com",
		"pending confirmation",
		"(rule)     st-1,st-2  all",
		"arn:aws:sns:us-east-1:1:StreamLiveTopic:a3\n", // whole: unsubscribe takes it
		"StreamLiveTopic: 1 of 200 filter policies",
		"StreamDisconnectedTopic: 1 of 200 filter policies",
	} {
		if !strings.Contains(got, line) {
			t.Errorf("table lacks %q:\n%s", line, got)
		}
	}
}

// FleetDirectory knows a workspace by the streams the state table holds.
func TestFleetDirectory(t *testing.T) {
	ddb := testenv.DynamoDB(t)
	table := testenv.CreateTable(t, ddb, "StreamStateTable")
	fleet := &streamstate.Fleet{Client: ddb, Table: table}
	store := &streamstate.Store{Client: ddb, Table: table}
	seedStates(t, store, map[string]string{"st-final": "ws-league", "st-semi": "ws-league", "st-sunday": "ws-church"})
	d := ops.FleetDirectory{Fleet: fleet}
	got, err := d.Streams(context.Background(), "ws-league")
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"st-final", "st-semi"}) {
		t.Fatalf("Streams(ws-league) = %v, %v", got, err)
	}
	if got, err := d.Streams(context.Background(), "ws-nope"); err != nil || len(got) != 0 {
		t.Fatalf("Streams(ws-nope) = %v, %v", got, err)
	}
}

// seedStates gives each stream (stream → workspace) an idle state, as its
// first event would.
func seedStates(t *testing.T, store *streamstate.Store, streams map[string]string) {
	t.Helper()
	i := 0
	for stream, ws := range streams {
		i++
		u := streamstate.Update{StreamID: stream, Status: "idle", EventID: fmt.Sprint("seed-", i), EventType: "video.live_stream.idle", OccurredAt: "2024-04-02T11:00:00.000000000Z", WorkspaceID: ws}
		if _, err := store.Apply(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
}

// Hostile selections with -allow-new (no directory to stop them first):
// SNS's limits refuse them before anything is created.
func TestHostileSelectionsAreRefused(t *testing.T) {
	e := newRoutingEnv(t)
	e.routing.Directory = nil
	before := e.snapshot(t)
	many := make([]string, 10000)
	for i := range many {
		many[i] = fmt.Sprint("st-", i)
	}
	for name, c := range map[string]struct {
		sel  ops.Selection
		want error
	}{
		"a 300 KB workspace id":         {ops.Selection{WorkspaceID: strings.Repeat("w", 300*1024), Kinds: []string{"live"}}, filterpolicy.ErrTooLarge},
		"ten thousand streams":          {ops.Selection{WorkspaceID: "ws-1", StreamIDs: many, Kinds: []string{"live"}}, filterpolicy.ErrTooManyCombinations},
		"a kind with markup":            {ops.Selection{WorkspaceID: "ws-1", Kinds: []string{"<b>live</b>"}}, ops.ErrBadSelection},
		"only blanks for the workspace": {ops.Selection{WorkspaceID: " \t "}, ops.ErrBadSelection},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.routing.Check(e.ctx, ops.Endpoint{Protocol: "email", Address: "a@example.com"}, c.sel)
			if !errors.Is(err, c.want) {
				t.Fatalf("Check = %.200v, want %v", err, c.want)
			}
		})
	}
	if after := e.snapshot(t); !slices.Equal(after, before) {
		t.Fatal("SNS changed")
	}
	// Markup in a workspace id is only a value: it is matched exactly.
	plan, err := e.routing.Check(e.ctx, ops.Endpoint{Protocol: "email", Address: "a@example.com"}, ops.Selection{WorkspaceID: `<script>"ws"</script>`, Kinds: []string{"live"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := filterpolicy.Parse(plan.Topics[0].Policy)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := p.Exact("workspaceId"); len(v) != 1 || v[0] != `<script>"ws"</script>` {
		t.Fatalf("policy %s", plan.Topics[0].Policy)
	}
}
