package localstack_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/streamhook/fastpix-receiver/infra/demo"
	"github.com/streamhook/fastpix-receiver/infra/localstack"
	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// The repair paths decide what the live system decides. One life with a
// flapping encoder (brief drops held and found back, one UNSTABLE), a real
// drop (held, then DISCONNECTED) and its recovery (LIVE again, with the
// downtime) is sent to the local stack three ways:
//
//   - live: the notifier as deployed;
//   - replay: the same stream's state is then lost, and fastpixctl replay
//     -apply brings it up to date from its log, long after the graces
//     ran out: the same alerts, word for word;
//   - redrive: another stream's life is sent while SNS refuses every alert
//     (the alert topics are gone); each refusal reaches the dead-letter
//     queue on its first try, nothing reaches a person; with the topics
//     back, fastpixctl redrive sends them: the same alerts, in order.
func TestReplayAndRedriveAlertAsLiveDoes(t *testing.T) {
	rules := map[string]string{alertrules.EnvGraceSeconds: "2"}
	ctx, st, logs := startStack(t, 3*time.Minute, localstack.Config{RetryDelay: 50 * time.Millisecond, Rules: rules})
	settings, err := localstack.RulesSettings("", rules)
	if err != nil {
		t.Fatal(err)
	}
	ddb := testenv.DynamoDBAt(st.DynamoDBEndpoint)
	snsClient := testenv.SNSAt(st.SNSEndpoint)
	wantKinds := []string{"live", "unstable", "disconnected", "recovery"}

	// Live.
	const liveStream = "repair-live"
	sendLife(ctx, t, st, settings, liveStream)
	live := waitForAlerts(ctx, t, st, liveStream, len(wantKinds))
	if got := kinds(live); strings.Join(got, ",") != strings.Join(wantKinds, ",") {
		t.Fatalf("live alerts %v, want %v:\n%s", got, wantKinds, sms(live))
	}

	// Replay: the state is lost; the log is all there is.
	if _, err := ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(st.StateTable),
		Key: map[string]ddbtypes.AttributeValue{streamstate.KeyStreamID: &ddbtypes.AttributeValueMemberS{Value: liveStream}}}); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	replayer := &ops.Replayer{Events: &eventstore.RangeReader{Client: ddb, Table: st.EventsTable}, Notifier: st.Notifier, Out: &out}
	if _, err := replayer.Replay(ctx, eventstore.RangeQuery{StreamID: liveStream}, true); err != nil {
		t.Fatalf("replay: %v\n%s", err, out.String())
	}
	all := waitForAlerts(ctx, t, st, liveStream, 2*len(wantKinds))
	replayed := all[len(live):]
	for i := range live {
		if replayed[i].Topic != live[i].Topic || replayed[i].SMS != live[i].SMS || replayed[i].Email != live[i].Email {
			t.Errorf("replayed alert %d:\n  %s %s\nlive:\n  %s %s", i+1, replayed[i].Topic, replayed[i].SMS, live[i].Topic, live[i].SMS)
		}
	}

	// Redrive: SNS refuses every alert while the topics are gone.
	var topics []string
	for _, id := range []string{"StreamLiveTopic", "StreamDisconnectedTopic"} {
		arn := st.Topics[id]
		if arn == "" {
			t.Fatalf("no %s in %v", id, st.Topics)
		}
		topics = append(topics, arn)
		if _, err := snsClient.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: aws.String(arn)}); err != nil {
			t.Fatal(err)
		}
	}
	const redriveStream = "repair-redrive"
	sendLife(ctx, t, st, settings, redriveStream)
	dlq := &ops.QueryQueue{Endpoint: st.SNSEndpoint, URL: st.Queues[st.DeadLetterQueue]}
	deadline := time.Now().Add(20 * time.Second)
	for {
		visible, inFlight, err := queueDepth(ctx, st.SNSEndpoint, dlq.URL)
		if err != nil {
			t.Fatal(err)
		}
		if visible+inFlight >= len(wantKinds) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages in the dead-letter queue after 20 s, want the %d refused alerts", visible+inFlight, len(wantKinds))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := strings.Count(logs.String(), "dead-letter"); n == 0 {
		t.Errorf("no refusal was logged as dead-lettered")
	}
	// On its first try: a refusal no retry cures is not retried.
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "will be retried") && strings.Contains(line, redriveStream) {
			t.Errorf("a refused alert was retried: %s", line)
		}
	}
	if got := about(st.Inbox.Alerts(), redriveStream); len(got) != 0 {
		t.Fatalf("%d alerts reached a person while SNS refused them", len(got))
	}
	for _, arn := range topics {
		if _, err := snsClient.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(arn[strings.LastIndex(arn, ":")+1:])}); err != nil {
			t.Fatal(err)
		}
		if err := st.Inbox.Subscribe(ctx, arn); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	r := &ops.Redriver{Queue: dlq, Streams: testenv.StreamsAt(st.DynamoDBEndpoint),
		Events: &eventstore.RangeReader{Client: ddb, Table: st.EventsTable}, Processor: st.Notifier, Resender: st.Notifier, Out: &out}
	if _, err := r.Redrive(ctx); err != nil {
		t.Fatalf("redrive: %v\n%s", err, out.String())
	}
	redriven := waitForAlerts(ctx, t, st, redriveStream, len(wantKinds))
	if got := kinds(redriven); strings.Join(got, ",") != strings.Join(wantKinds, ",") {
		t.Errorf("redriven alerts %v, want %v as live:\n%s\nredrive said:\n%s", got, wantKinds, sms(redriven), out.String())
	}
	for i := range redriven {
		if redriven[i].Topic != live[i].Topic {
			t.Errorf("redriven alert %d went to %s, live to %s", i+1, redriven[i].Topic, live[i].Topic)
		}
	}
	visible, inFlight, err := queueDepth(ctx, st.SNSEndpoint, dlq.URL)
	if err != nil || visible+inFlight != 0 {
		t.Errorf("after redrive the dead-letter queue holds %d+%d messages (%v)", visible, inFlight, err)
	}
	t.Logf("live, replayed (word for word) and redriven (same kinds, topics, order):\n%s", sms(live))
	// Nothing more arrives for either stream: every hold was decided once.
	time.Sleep(time.Second)
	if n := len(about(st.Inbox.Alerts(), redriveStream)); n != len(wantKinds) {
		t.Errorf("%d alerts about %s, want %d", n, redriveStream, len(wantKinds))
	}
	if n := len(about(st.Inbox.Alerts(), liveStream)); n != 2*len(wantKinds) {
		t.Errorf("%d alerts about %s, want %d (live and replayed)", n, liveStream, 2*len(wantKinds))
	}
}

func sendLife(ctx context.Context, t *testing.T, st *localstack.Stack, s alertrules.Settings, stream string) {
	t.Helper()
	sent, err := demo.SendRules(ctx, st.URL+localstack.WebhookPath, st.Secret, s, stream, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range sent {
		if d.Status != 200 {
			t.Fatalf("%s: %d %s", d.Type, d.Status, d.Answer)
		}
	}
}

// waitForAlerts waits until the inbox holds n alerts about stream, and
// returns them in the order they arrived.
func waitForAlerts(ctx context.Context, t *testing.T, st *localstack.Stack, stream string, n int) []localstack.Alert {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := about(st.Inbox.Alerts(), stream)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%d alerts about %s, want %d:\n%s", len(got), stream, n, sms(got))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func about(as []localstack.Alert, stream string) []localstack.Alert {
	var out []localstack.Alert
	for _, a := range as {
		if a.Attributes[alerts.AttrStreamID] == stream {
			out = append(out, a)
		}
	}
	return out
}

func kinds(as []localstack.Alert) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Attributes[alerts.AttrAlert]
	}
	return out
}

func sms(as []localstack.Alert) string {
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "  %s %s\n", a.Topic, a.SMS)
	}
	return b.String()
}
