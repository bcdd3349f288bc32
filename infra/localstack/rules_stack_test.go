package localstack_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/infra/demo"
	"github.com/streamhook/fastpix-receiver/infra/localstack"
	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
)

// The alert rules on the local stack, with a 2 s grace taken from
// the stack's configuration over the template's default: a disconnect
// followed by a reconnect within the grace sends nothing; one left alone is
// one alert after the grace; the reconnection after it is one "back after"
// alert with the downtime; three quick drops are one unstable alert. The
// whole demo is sent (its first part, historical, gives the three alerts it
// always gave), and the inbox then holds exactly those alerts.
func TestAlertRulesOnTheLocalStack(t *testing.T) {
	ctx, st, logs := startStack(t, 3*time.Minute, localstack.Config{
		RetryDelay: 100 * time.Millisecond, Rules: map[string]string{alertrules.EnvGraceSeconds: "2"},
	})
	want := alertrules.Settings{Grace: 2 * time.Second, FlapThreshold: 3, FlapWindow: 10 * time.Minute}
	if st.Rules != want || st.CheckQueue != "DisconnectCheckQueue" || st.CheckDeadLetterQueue != "DisconnectCheckDeadLetterQueue" {
		t.Fatalf("stack runs rules %+v from queue %q; want %+v from DisconnectCheckQueue", st.Rules, st.CheckQueue, want)
	}
	if _, err := demo.Send(ctx, st.URL+localstack.WebhookPath, st.Secret, nil); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	first, err := st.Inbox.WaitFor(wctx, 3)
	wcancel()
	if err != nil {
		t.Fatalf("the demo's first part: %v", err)
	}

	settings, err := localstack.RulesSettings("", map[string]string{alertrules.EnvGraceSeconds: "2"})
	if err != nil || settings != want {
		t.Fatalf("the demo's settings: %+v, %v; want %+v", settings, err, want)
	}
	sent, err := demo.SendRules(ctx, st.URL+localstack.WebhookPath, st.Secret, settings, "", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sent {
		if s.Status != http.StatusOK || !strings.Contains(s.Answer, `"accepted"`) {
			t.Fatalf("%s: %d %s", s.Type, s.Status, s.Answer)
		}
	}
	wctx, wcancel = context.WithTimeout(ctx, 30*time.Second)
	all, err := st.Inbox.WaitFor(wctx, len(first)+4)
	wcancel()
	if err != nil {
		t.Fatal(err)
	}
	var sms []string
	for _, a := range all[len(first):] {
		sms = append(sms, a.Topic+" "+a.SMS)
	}
	prefixes := []string{
		"StreamLiveTopic LIVE: stream a2ae..8481 (Development) active",
		"StreamDisconnectedTopic UNSTABLE: stream a2ae..8481 dropped 3 times in 10 min (Development)",
		"StreamDisconnectedTopic DISCONNECTED: stream a2ae..8481 (Development) disconnected",
		"StreamLiveTopic LIVE again: stream a2ae..8481 back after 5s (Development)",
	}
	for i, p := range prefixes {
		if i >= len(sms) || !strings.HasPrefix(sms[i], p) {
			t.Errorf("alert %d: %q, want %q…\nall: %q", i+1, at(sms, i), p, sms)
		}
	}
	if !strings.Contains(all[len(first)].Default, `"simulcastTargets":[{"id":"`+demo.SimulcastID+`","status":"broadcasting"}]`) {
		t.Errorf("the live alert does not name the simulcast target: %s", all[len(first)].Default)
	}
	// Nothing more: every check has been decided by now (the last brief
	// drop's was due 2 s after it, before the 5 s wait ended).
	time.Sleep(500 * time.Millisecond)
	if n := len(st.Inbox.Alerts()); n != len(first)+4 {
		t.Errorf("%d alerts in the inbox, want %d: %q", n, len(first)+4, sms)
	}
	if strings.Count(logs.String(), `decision="not held"`) != 3 {
		t.Errorf("want 3 checks that found the stream back (the brief drops):\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `decision=alerted`) {
		t.Errorf("no check alerted the real drop:\n%s", logs.String())
	}
	var state struct {
		Alerting struct {
			Drops []time.Time `json:"drops"`
		} `json:"alerting"`
	}
	if code := getJSON(t, st.URL+"/streams/"+demo.StreamID, &state); code != http.StatusOK || len(state.Alerting.Drops) != 3 {
		t.Errorf("state: %d, alerting %+v; want 3 brief drops", code, state.Alerting)
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}
