package localstack_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/streamhook/fastpix-receiver/infra/demo"
	"github.com/streamhook/fastpix-receiver/infra/localstack"
	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// Who gets which alert, on the local stack: three people subscribe with
// fastpixctl's code (checked against the fleet the stack's state table
// holds) to different workspaces, streams and kinds, over email, SMS and
// https; a scripted evening of three workspaces runs through the real
// functions; each person receives exactly the alerts of their selection,
// and nothing of the others', while the catch-all inbox gets every alert.
// A fourth writes a policy with operators itself, and gets exactly its
// match too.
func TestWhoGetsWhichAlert(t *testing.T) {
	ctx, st, _ := startStack(t, 3*time.Minute, localstack.Config{
		RetryDelay: 100 * time.Millisecond,
		// Disconnects alerted at once: the evening needs no waiting.
		Rules: map[string]string{alertrules.EnvGraceSeconds: "0"},
	})
	run := fmt.Sprint(time.Now().UnixNano())

	// The streams connect first: that is how the receiver learns the
	// workspaces the subscriptions are checked against.
	connect, rest := demo.Evening[:4], demo.Evening[4:]
	if _, err := demo.SendEvening(ctx, st.URL+localstack.WebhookPath, st.Secret, run+"-connect", connect, nil); err != nil {
		t.Fatal(err)
	}
	fleet := &streamstate.Fleet{Client: testenv.DynamoDBAt(st.DynamoDBEndpoint), Table: st.StateTable}
	waitUntil(t, "the fleet knows the three workspaces", func() bool {
		for _, ws := range []string{"ws-league", "ws-church", "ws-agency"} {
			if ids, err := (ops.FleetDirectory{Fleet: fleet}).Streams(ctx, ws); err != nil || len(ids) == 0 {
				return false
			}
		}
		return true
	})
	routing := &ops.Routing{SNS: testenv.SNSAt(st.SNSEndpoint), Routes: st.Routes, Directory: ops.FleetDirectory{Fleet: fleet}}
	people := []struct {
		ep  ops.Endpoint
		sel ops.Selection
	}{
		// The league's on-call: its streams' drops, by SMS.
		{ops.Endpoint{Protocol: "sms", Address: "+14155550123"}, ops.Selection{WorkspaceID: "ws-league", Kinds: []string{"disconnected"}}},
		// A producer: only tonight's final, live and back live, by email.
		{ops.Endpoint{Protocol: "email", Address: "producer@league.example.com"}, ops.Selection{WorkspaceID: "ws-league", StreamIDs: []string{"st-final"}, Kinds: []string{"live", "recovered"}}},
		// The agency's streaming team: simulcast and drops, to its chat
		// webhook (https; on loopback, a port nothing listens on).
		{ops.Endpoint{Protocol: "https", Address: "https://127.0.0.1:1/chat/agency"}, ops.Selection{WorkspaceID: "ws-agency", Kinds: []string{"simulcast", "disconnected"}}},
	}
	for _, p := range people {
		plan, err := routing.Check(ctx, p.ep, p.sel)
		if err != nil {
			t.Fatalf("%s: %v", p.ep.Address, err)
		}
		if _, err := routing.Subscribe(ctx, plan); err != nil {
			t.Fatalf("%s: %v", p.ep.Address, err)
		}
	}
	// A fourth subscriber writes its own policy with operators, as the AWS
	// CLI would: the stack keeps it as written (goaws alone would mangle
	// it) and honours it.
	night := `{"kind":[{"anything-but":["live","disconnected"]}],"workspaceId":[{"prefix":"ws-l"}],"streamId":[{"exists":true}]}`
	snsc := testenv.SNSAt(st.SNSEndpoint)
	if _, err := snsc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(st.Topics["StreamLiveTopic"]), Protocol: aws.String("email"),
		Endpoint: aws.String("night-desk@league.example.com"), Attributes: map[string]string{"FilterPolicy": night}}); err != nil {
		t.Fatal(err)
	}
	// A refusal on the running stack changes nothing.
	before, _ := routing.List(ctx)
	if _, err := routing.Check(ctx, ops.Endpoint{Protocol: "email", Address: "producer@league.example.com"}, ops.Selection{WorkspaceID: "ws-church"}); err == nil {
		t.Fatal("a second subscription of the producer's address was accepted")
	}
	if after, _ := routing.List(ctx); len(after) != len(before) {
		t.Fatalf("a refusal changed SNS: %d subscriptions, then %d", len(before), len(after))
	}

	sent, err := demo.SendEvening(ctx, st.URL+localstack.WebhookPath, st.Secret, run, rest, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sent {
		if s.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", s.Type, s.Status, s.Answer)
		}
	}
	// The evening makes 12 alerts: 4 live, 4 disconnected, 2 recovered and
	// 2 simulcast; the inbox (no policy) gets them all.
	const alertsWanted = 12
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	all, err := st.Inbox.WaitFor(wctx, alertsWanted)
	wcancel()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // nothing more arrives
	if all = st.Inbox.Alerts(); len(all) != alertsWanted {
		t.Errorf("the catch-all inbox got %d alerts, want %d:\n%s", len(all), alertsWanted, summaries(all))
	}

	// Every alert went to a topic fastpixctl subscribes its kind on: if the
	// notifier moved a kind to another topic, subscriptions by kind would
	// miss it.
	kindTopics := ops.KindTopics(st.Routes)
	for _, a := range all {
		if !slices.Contains(kindTopics[a.Attributes["kind"]], a.TopicARN) {
			t.Errorf("a %q alert went to %s; fastpixctl subscribes that kind on %v", a.Attributes["kind"], a.Topic, kindTopics[a.Attributes["kind"]])
		}
	}
	got := map[string][]string{}
	for _, d := range st.Inbox.Routed() {
		got[d.Endpoint] = append(got[d.Endpoint], d.Attributes["kind"]+" "+d.Attributes["streamId"])
	}
	want := map[string][]string{
		"+14155550123":                    {"disconnected st-final", "disconnected st-semi"},
		"producer@league.example.com":     {"live st-final", "recovered st-final"},
		"https://127.0.0.1:1/chat/agency": {"simulcast st-client", "disconnected st-client"},
		"night-desk@league.example.com":   {"recovered st-final"},
	}
	// Streams run in parallel lanes: the order across streams is not
	// fixed, only each stream's own.
	for who, w := range want {
		slices.Sort(got[who])
		slices.Sort(w)
		if !slices.Equal(got[who], w) {
			t.Errorf("%s received %q, want exactly %q", who, got[who], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("deliveries to %d endpoints, want %d: %v", len(got), len(want), got)
	}
	// The chat endpoint reads the chat integration's rendering.
	for _, d := range st.Inbox.Routed() {
		if d.Protocol == "https" && (!strings.Contains(d.Chat, `"source":"custom"`) || !strings.Contains(localstack.FormatRouted(d), "chat: ")) {
			t.Errorf("the https subscriber's alert has no chat rendering: %q", d.Chat)
		}
	}
	// The selection is not only the policy's say-so: every delivery's
	// alert is of the person's workspace, and no other alert of that
	// selection was left out.
	for _, d := range st.Inbox.Routed() {
		if d.Endpoint == "night-desk@league.example.com" {
			continue
		}
		i := slices.IndexFunc(people, func(p struct {
			ep  ops.Endpoint
			sel ops.Selection
		}) bool {
			return p.ep.Address == d.Endpoint
		})
		if i < 0 || d.Attributes["workspaceId"] != people[i].sel.WorkspaceID {
			t.Errorf("%s got an alert of workspace %s", d.Endpoint, d.Attributes["workspaceId"])
		}
	}
}

func summaries(as []localstack.Alert) string {
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "  %s %s %s\n", a.Topic, a.Attributes["kind"], a.SMS)
	}
	return b.String()
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// make demo's third part, twice (a second run keeps the first's
// subscriptions): Alice gets only the league's alerts of her kinds, Bob
// only the church's, and the demo's own output names them.
func TestRoutingDemo(t *testing.T) {
	ctx, st, _ := startStack(t, 3*time.Minute, localstack.Config{
		RetryDelay: 100 * time.Millisecond,
		Rules:      map[string]string{alertrules.EnvGraceSeconds: "0"},
	})
	routing := st.RoutingInfo().Routing()
	alice := []string{"disconnected st-final", "disconnected st-semi", "live st-final", "live st-semi", "simulcast st-final"} // sorted
	bob := []string{"live st-sunday", "recovered st-sunday"}
	for round := 1; round <= 2; round++ {
		var out strings.Builder
		if err := demo.SendRouting(ctx, st.URL+localstack.WebhookPath, st.Secret, routing, fmt.Sprint("demo-", round, "-", time.Now().UnixNano()), &out); err != nil {
			t.Fatal(err)
		}
		// It narrates once: its heading (wrapped), which says what is
		// constructed; no delivery line repeats it.
		if text := out.String(); !strings.HasPrefix(strings.TrimLeft(text, "\n"), "── 3 of 3 · ") || strings.Count(strings.ReplaceAll(text, "\n", " "), demo.ConstructedNote) != 1 {
			t.Errorf("the routing demo does not start with its heading, or does not say once that its events are constructed:\n%s", text)
		}
		if round == 1 {
			wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := st.Inbox.WaitFor(wctx, 12)
			wcancel()
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond)
			got := map[string][]string{}
			for _, d := range st.Inbox.Routed() {
				got[d.Endpoint] = append(got[d.Endpoint], d.Attributes["kind"]+" "+d.Attributes["streamId"])
			}
			for who, want := range map[string][]string{"+14155550100": alice, "bob@church.example.com": bob} {
				slices.Sort(got[who])
				if !slices.Equal(got[who], want) {
					t.Errorf("%s received %q, want %q", who, got[who], want)
				}
			}
			if len(got) != 2 {
				t.Errorf("deliveries to %v, want Alice and Bob only", got)
			}
		} else {
			// The streams' second evening alerts otherwise (they are known
			// now): whatever arrived, each person got exactly the alerts of
			// their selection.
			settle(t, st.Inbox)
			for _, p := range demo.People {
				var want, got []string
				for _, a := range st.Inbox.Alerts() {
					if a.Attributes["workspaceId"] == p.WorkspaceID && slices.Contains(p.Kinds, a.Attributes["kind"]) {
						want = append(want, a.MessageID)
					}
				}
				for _, d := range st.Inbox.Routed() {
					if d.Endpoint == p.Endpoint.Address {
						got = append(got, d.MessageID)
					}
				}
				slices.Sort(want)
				slices.Sort(got)
				if len(want) == 0 || !slices.Equal(got, want) {
					t.Errorf("%s: received %d alerts, their selection holds %d", p.Name, len(got), len(want))
				}
			}
		}
		text := out.String()
		for _, s := range []string{"Alice, the league's on-call", "bob@church.example.com", "ws-church", "of 200 filter policies"} {
			if !strings.Contains(text, s) {
				t.Errorf("round %d: the demo's output lacks %q:\n%s", round, s, text)
			}
		}
		if round == 2 && !strings.Contains(text, "subscribed by an earlier run") {
			t.Errorf("the second run does not say the subscriptions were kept:\n%s", text)
		}
	}
}

// settle waits until no alert has arrived for a second (at most 30 s).
func settle(t *testing.T, in *localstack.Inbox) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	n := -1
	for time.Now().Before(deadline) {
		if m := len(in.Alerts()); m != n {
			n = m
			time.Sleep(time.Second)
			continue
		}
		return
	}
	t.Fatal("alerts kept arriving for 30 s")
}
