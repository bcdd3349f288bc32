package templatetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/streamhook/fastpix-receiver/infra/board"
	"github.com/streamhook/fastpix-receiver/infra/samtemplate"
	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
)

// The board users' managed policy allows exactly what `fastpixctl board`
// does (infra/board): GET /streams of this stack's API, the feed topic,
// and SQS on queues named with the board's prefix; a subscription only of
// such a queue. The stack outputs its ARN.
func TestBoardUserPolicy(t *testing.T) {
	tp := load(t)
	r := resource(t, tp, "BoardUserPolicy")
	if r.Type() != "AWS::IAM::ManagedPolicy" {
		t.Fatalf("BoardUserPolicy is a %s", r.Type())
	}
	method, path, _ := strings.Cut(httpapi.RouteFleet, " ")
	queues := "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:" + board.QueuePrefix + "*"
	want := []grant{
		{"execute-api:Invoke", "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*/" + method + path},
		{"sns:Subscribe", "StreamChangesTopic"},
		{"sns:Unsubscribe", "StreamChangesTopic"},
		{"sns:ListSubscriptionsByTopic", "StreamChangesTopic"},
	}
	// What the board's SQS code calls (SDKQueues), one action each.
	for _, a := range []string{"CreateQueue", "TagQueue", "GetQueueAttributes", "SetQueueAttributes", "GetQueueUrl", "ReceiveMessage", "DeleteMessage", "DeleteQueue"} {
		want = append(want, grant{"sqs:" + a, queues})
	}
	var got []grant
	var subscribe samtemplate.Statement
	for _, st := range samtemplate.Statements(r.Properties().Get("PolicyDocument")) {
		if st.Effect != "Allow" {
			t.Errorf("statement %s: Effect %s", st.Sid, st.Effect)
		}
		for _, a := range st.Actions {
			if a == "sns:Subscribe" {
				subscribe = st
			}
			for _, res := range st.Resources {
				got = append(got, grant{a, res.Target()})
			}
		}
	}
	cmp := func(a, b grant) int { return strings.Compare(a.action+" "+a.resource, b.action+" "+b.resource) }
	slices.SortFunc(got, cmp)
	slices.SortFunc(want, cmp)
	if !slices.Equal(got, want) {
		t.Errorf("BoardUserPolicy allows:\n  %v\nwant exactly:\n  %v", got, want)
	}
	if len(subscribe.Actions) != 1 {
		t.Fatalf("sns:Subscribe shares statement %s with %v: its conditions would narrow them too", subscribe.Sid, subscribe.Actions)
	}
	cond := subscribe.Get("Condition")
	if p := cond.Get("StringEquals", "sns:Protocol").Text(); p != "sqs" {
		t.Errorf("sns:Subscribe: protocol condition %q, want sqs", p)
	}
	if ep := cond.Get("StringLike", "sns:Endpoint").Target(); ep != queues {
		t.Errorf("sns:Subscribe: endpoint condition %q, want %q", ep, queues)
	}
	if got := tp.Section("Outputs").Get("BoardUserPolicyArn", "Value").Target(); got != "BoardUserPolicy" {
		t.Errorf("output BoardUserPolicyArn = %q, want !Ref BoardUserPolicy", got)
	}
}
