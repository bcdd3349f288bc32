package templatetest

import (
	"slices"
	"strings"
	"testing"
)

// Chat is optional and wired to exactly the alert topics: a Slack and a
// Teams channel configuration, each behind the condition of its own
// parameters (all empty by default, so a stack without chat has none of
// it), subscribed to the topics ALERT_ROUTES routes to (not the change
// feed, not the operations topic), with a role that can do nothing and a
// guardrail that denies everything: the channel only reads alerts.
func TestChatChannelsAreOptionalAndReadOnly(t *testing.T) {
	tp := load(t)
	for _, p := range []string{"ChatSlackWorkspaceId", "ChatSlackChannelId", "ChatTeamsTenantId", "ChatTeamsTeamId", "ChatTeamsChannelId"} {
		if d := tp.Parameter(p).Get("Default"); !d.Exists() || d.Text() != "" {
			t.Errorf("parameter %s: default %q, want empty (chat is optional)", p, d.Text())
		}
	}
	conds := tp.Section("Conditions")
	for c, params := range map[string][]string{
		"HasSlackChat": {"ChatSlackWorkspaceId", "ChatSlackChannelId"},
		"HasTeamsChat": {"ChatTeamsTenantId", "ChatTeamsTeamId", "ChatTeamsChannelId"},
	} {
		text := conds.Get(c).String()
		for _, p := range params {
			if !strings.Contains(text, p) {
				t.Errorf("condition %s does not depend on %s: %s", c, p, text)
			}
		}
	}
	alertTopics := []string{"SimulcastBroadcastingTopic", "StreamDisconnectedTopic", "StreamLiveTopic"}
	for id, want := range map[string]struct{ typ, cond string }{
		"SlackAlertsChannel": {"AWS::Chatbot::SlackChannelConfiguration", "HasSlackChat"},
		"TeamsAlertsChannel": {"AWS::Chatbot::MicrosoftTeamsChannelConfiguration", "HasTeamsChat"},
	} {
		r := resource(t, tp, id)
		if r.Type() != want.typ || r.Condition() != want.cond {
			t.Errorf("%s: %s behind %q, want %s behind %s", id, r.Type(), r.Condition(), want.typ, want.cond)
		}
		p := r.Properties()
		var topics []string
		for _, n := range p.Get("SnsTopicArns").List() {
			topics = append(topics, n.Target())
		}
		slices.Sort(topics)
		if !slices.Equal(topics, alertTopics) {
			t.Errorf("%s is subscribed to %v, want the alert topics %v", id, topics, alertTopics)
		}
		if g := p.Get("GuardrailPolicies").String(); !strings.Contains(g, "policy/AWSDenyAll") || len(p.Get("GuardrailPolicies").List()) != 1 {
			t.Errorf("%s: guardrails %s, want AWSDenyAll alone", id, g)
		}
		if refs := p.Get("IamRoleArn").Refs(); !slices.Equal(refs, []string{"ChatRole"}) {
			t.Errorf("%s: role %s, want ChatRole", id, p.Get("IamRoleArn"))
		}
	}
	role := resource(t, tp, "ChatRole")
	if role.Condition() != "HasChat" {
		t.Errorf("ChatRole behind %q, want HasChat", role.Condition())
	}
	rp := role.Properties()
	if rp.Get("Policies").Exists() || rp.Get("ManagedPolicyArns").Exists() {
		t.Errorf("ChatRole has permissions: %s", rp)
	}
	if trust := rp.Get("AssumeRolePolicyDocument").String(); !strings.Contains(trust, "chatbot.amazonaws.com") {
		t.Errorf("ChatRole is assumed by %s, want chatbot.amazonaws.com", trust)
	}
}
