package alerts_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
)

// checkCustomNotification checks doc against the custom notification schema
// of AWS's chat integration (docs.aws.amazon.com/chatbot/latest/adminguide/
// custom-notifs.html, "Event schema" and "Parameter details"): version
// "1.0" and source "custom" required; content required with a description;
// textType, when set, only client-markdown; title a string; nextSteps and
// keywords lists of strings; metadata's threadId, summary, eventType
// strings, relatedResources a list of strings, additionalContext an object
// of strings; nothing else. Lengths are this rendering's own bounds.
func checkCustomNotification(t *testing.T, text string) {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, text)
	}
	str := func(where string, v any, max int, required bool) string {
		t.Helper()
		if v == nil {
			if required {
				t.Errorf("%s: required", where)
			}
			return ""
		}
		s, ok := v.(string)
		if !ok {
			t.Errorf("%s: %T, want a string", where, v)
			return ""
		}
		if required && strings.TrimSpace(s) == "" {
			t.Errorf("%s: empty", where)
		}
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
			t.Errorf("%s: %d characters, at most %d (valid UTF-8)", where, utf8.RuneCountInString(s), max)
		}
		return s
	}
	strs := func(where string, v any, maxItems, max int) {
		t.Helper()
		if v == nil {
			return
		}
		list, ok := v.([]any)
		if !ok || len(list) > maxItems {
			t.Errorf("%s: %v, want a list of at most %d strings", where, v, maxItems)
			return
		}
		for _, item := range list {
			str(where+"[]", item, max, true)
		}
	}
	only := func(where string, m map[string]any, keys ...string) {
		t.Helper()
		for k := range m {
			if !strings.Contains(","+strings.Join(keys, ",")+",", ","+k+",") {
				t.Errorf("%s: unknown field %q", where, k)
			}
		}
	}
	only("notification", doc, "version", "source", "id", "content", "metadata")
	if v := str("version", doc["version"], 3, true); v != "1.0" {
		t.Errorf("version = %q, want 1.0", v)
	}
	if v := str("source", doc["source"], 6, true); v != "custom" {
		t.Errorf("source = %q, want custom", v)
	}
	str("id", doc["id"], alerts.MaxChatThreadID, false)
	content, ok := doc["content"].(map[string]any)
	if !ok {
		t.Fatalf("content: %T, want an object", doc["content"])
	}
	only("content", content, "textType", "title", "description", "nextSteps", "keywords")
	if tt := str("content.textType", content["textType"], 20, false); tt != "" && tt != "client-markdown" {
		t.Errorf("textType = %q: only client-markdown is supported", tt)
	}
	str("content.title", content["title"], alerts.MaxChatTitle, false)
	str("content.description", content["description"], alerts.MaxChatDescription, true)
	strs("content.nextSteps", content["nextSteps"], 5, alerts.MaxChatItem)
	strs("content.keywords", content["keywords"], alerts.MaxChatKeywords, alerts.MaxChatItem)
	if doc["metadata"] == nil {
		return
	}
	meta, ok := doc["metadata"].(map[string]any)
	if !ok {
		t.Fatalf("metadata: %T, want an object", doc["metadata"])
	}
	only("metadata", meta, "threadId", "summary", "eventType", "relatedResources", "additionalContext")
	str("metadata.threadId", meta["threadId"], alerts.MaxChatThreadID, false)
	str("metadata.summary", meta["summary"], alerts.MaxChatItem, false)
	str("metadata.eventType", meta["eventType"], 64, false)
	strs("metadata.relatedResources", meta["relatedResources"], 5, 1024)
	if ac, ok := meta["additionalContext"]; ok {
		m, ok := ac.(map[string]any)
		if !ok {
			t.Fatalf("additionalContext: %T, want an object", ac)
		}
		for k, v := range m {
			str("metadata.additionalContext."+k, v, alerts.MaxChatItem, false)
		}
	}
}

func chatAlerts() map[string]alerts.Alert {
	base := alerts.Alert{EventID: "e-1", Type: fastpix.TypeLiveStreamActive, StreamID: "st-final", WorkspaceID: "ws-league", WorkspaceName: "Premier League", OccurredAt: "2024-04-02T20:01:00Z", Status: "active",
		SimulcastTargets: []alerts.Target{{ID: "sim-yt", Status: "broadcasting"}}}
	rule := func(k alertrules.Kind, status string) alerts.Alert {
		return alerts.FromRule(base, alertrules.Alert{Kind: k, EventID: "e-2", OccurredAt: time.Date(2024, 4, 2, 20, 5, 0, 0, time.UTC), Status: status, PreviousStatus: "active",
			LiveFor: 4 * time.Minute, Grace: 30 * time.Second, DownFor: 2 * time.Minute, Drops: 3, Window: 10 * time.Minute})
	}
	sim := base
	sim.Type, sim.SimulcastID, sim.Status = "video.live_stream.simulcast_target.errored", "sim-yt", "errored"
	hostile := base
	hostile.WorkspaceName = "<!channel> @here *bold* _it_ ~x~ `code` <https://evil.example|click>\n\tnext line" + strings.Repeat("é", 10000)
	hostile.StreamID = "st`<b>@here" + strings.Repeat("x", 500)
	hostile.Test = true
	bare := alerts.Alert{EventID: "", Type: fastpix.TypeLiveStreamIdle}
	return map[string]alerts.Alert{
		"live": base, "recovered": rule(alertrules.KindRecovery, "active"), "disconnected": rule(alertrules.KindDisconnected, "disconnected"),
		"unstable": rule(alertrules.KindUnstable, "active"), "simulcast": sim, "hostile names": hostile, "no ids at all": bare,
	}
}

func TestChatRenderingMatchesTheCustomNotificationSchema(t *testing.T) {
	for name, a := range chatAlerts() {
		t.Run(name, func(t *testing.T) {
			m := alerts.Render(a)
			checkCustomNotification(t, m.Chat)
		})
	}
}

// Names from a payload cannot ping a channel, link, or format the card.
func TestChatRenderingIsInert(t *testing.T) {
	m := alerts.Render(chatAlerts()["hostile names"])
	var n alerts.ChatNotification
	if err := json.Unmarshal([]byte(m.Chat), &n); err != nil {
		t.Fatal(err)
	}
	all := n.Content.Title + n.Content.Description + strings.Join(n.Content.NextSteps, "") + n.Metadata.ThreadID
	for _, bad := range []string{"<!channel>", "<https://", "@here", "\n\tnext", "*bold*", "`code`", "<b>"} {
		if strings.Contains(all, bad) {
			t.Errorf("chat rendering carries %q:\n%s", bad, all)
		}
	}
	if !strings.HasPrefix(n.Content.Title, "(TEST)") {
		t.Errorf("a test stream's title: %q", n.Content.Title)
	}
}

func TestChatRenderingSays(t *testing.T) {
	as := chatAlerts()
	cases := map[string][]string{
		"live":         {":large_green_circle: LIVE: stream `st-final` (Premier League)", "*Simulcast targets:* `sim-yt` broadcasting", "*Workspace:* Premier League `ws-league`"},
		"disconnected": {":red_circle: DISCONNECTED", "*Status:* active → disconnected", "*Live for:* 4m", "Check the encoder sending stream `st-final`"},
		"recovered":    {":white_check_mark: LIVE again", "*Down for:* 2m"},
		"unstable":     {":warning: UNSTABLE", "*Brief drops:* 3 times in 10 min"},
		"simulcast":    {":satellite_antenna: SIMULCAST ERRORED: stream `st-final` target `sim-yt`", "Check simulcast target `sim-yt`"},
	}
	for name, wants := range cases {
		var n alerts.ChatNotification
		if err := json.Unmarshal([]byte(alerts.Render(as[name]).Chat), &n); err != nil {
			t.Fatal(err)
		}
		text := n.Content.Title + "\n" + n.Content.Description + "\n" + strings.Join(n.Content.NextSteps, "\n")
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("%s: lacks %q:\n%s", name, w, text)
			}
		}
		if n.Metadata.EventType != name || n.Content.Keywords[0] != name {
			t.Errorf("%s: eventType %q keywords %v", name, n.Metadata.EventType, n.Content.Keywords)
		}
	}
}

// One thread per stream: every alert of a stream shares its threadId, and
// two streams never share one.
func TestChatOneThreadPerStream(t *testing.T) {
	as := chatAlerts()
	thread := func(a alerts.Alert) string {
		var n alerts.ChatNotification
		_ = json.Unmarshal([]byte(alerts.Render(a).Chat), &n)
		return n.Metadata.ThreadID
	}
	first := thread(as["live"])
	for _, k := range []string{"recovered", "disconnected", "unstable", "simulcast"} {
		if got := thread(as[k]); got != first {
			t.Errorf("%s: thread %q, want the stream's %q", k, got, first)
		}
	}
	other := as["live"]
	other.StreamID = "st-semi"
	if thread(other) == first {
		t.Error("two streams share a thread")
	}
}

// The chat rendering rides the one publish as its https key; the other
// protocols' renderings are what they were.
func TestChatIsTheHTTPSKeyOfTheOnePublish(t *testing.T) {
	m := alerts.Render(chatAlerts()["disconnected"])
	f := &fakeSNS{}
	if err := (&alerts.SNSPublisher{Client: f}).Publish(context.Background(), "arn:aws:sns:us-east-1:1:Down", m); err != nil {
		t.Fatal(err)
	}
	if len(f.in) != 1 {
		t.Fatalf("%d publishes, want 1", len(f.in))
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(aws.ToString(f.in[0].Message)), &body); err != nil {
		t.Fatal(err)
	}
	if body["https"] != m.Chat || body["default"] != m.Default || body["email"] != m.Email || body["sms"] != m.SMS || len(body) != 4 {
		t.Fatalf("structure keys %v", body)
	}
	if strings.Contains(body["default"], `"source":"custom"`) || strings.Contains(body["email"], "client-markdown") {
		t.Error("the chat rendering leaked into another protocol's")
	}
	if n := len(aws.ToString(f.in[0].Message)); n > 256*1024 {
		t.Errorf("publish of %d bytes, SNS takes 256 KB", n)
	}
}
