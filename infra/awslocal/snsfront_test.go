package awslocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/filterpolicy"
)

func frontClient(t *testing.T) (*sns.Client, string) {
	t.Helper()
	f, err := StartSNSFront(0, testenv.SNSEndpoint(t), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	c := testenv.SNSAt(f.URL)
	return c, testenv.CreateTopic(t, c, "front")
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func policyOfSub(t *testing.T, c *sns.Client, arn string) string {
	t.Helper()
	out, err := c.GetSubscriptionAttributes(context.Background(), &sns.GetSubscriptionAttributesInput{SubscriptionArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Attributes["FilterPolicy"]
}

// Through the front, goaws keeps a policy with operators as written, and
// refuses what SNS refuses, with SNS's codes, creating nothing.
func TestSNSFrontKeepsPoliciesAsWritten(t *testing.T) {
	c, topic := frontClient(t)
	ctx := context.Background()
	rich := `{"kind":[{"anything-but":["live"]}],"workspaceId":[{"prefix":"ws-"}],"drops":[{"numeric":[">=",3]}]}`
	out, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("email"), Endpoint: aws.String("a@example.com"),
		Attributes: map[string]string{"FilterPolicy": rich}})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.SubscriptionArn)
	if got := policyOfSub(t, c, arn); got != rich {
		t.Fatalf("policy read back %q, want %q", got, rich)
	}
	// SetSubscriptionAttributes with operators (goaws alone refuses them).
	other := `{"streamId":[{"suffix":"-final"}]}`
	if _, err := c.SetSubscriptionAttributes(ctx, &sns.SetSubscriptionAttributesInput{SubscriptionArn: aws.String(arn), AttributeName: aws.String("FilterPolicy"), AttributeValue: aws.String(other)}); err != nil {
		t.Fatal(err)
	}
	if got := policyOfSub(t, c, arn); got != other {
		t.Fatalf("policy after set %q, want %q", got, other)
	}
	// Exact policies pass through as goaws keeps them.
	exact := `{"kind":["live"]}`
	out2, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("sms"), Endpoint: aws.String("+14155550123"),
		Attributes: map[string]string{"FilterPolicy": exact}})
	if err != nil {
		t.Fatal(err)
	}
	if got := policyOfSub(t, c, aws.ToString(out2.SubscriptionArn)); got != exact {
		t.Fatalf("exact policy read back %q", got)
	}

	count := func() int {
		l, err := c.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic)})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Subscriptions)
	}
	before := count()
	for name, bad := range map[string]string{
		"not JSON": `{"kind":`, "six keys": `{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}`,
		"unknown operator": `{"a":[{"regex":"x"}]}`,
	} {
		_, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("email"), Endpoint: aws.String("b@example.com"),
			Attributes: map[string]string{"FilterPolicy": bad}})
		if apiCode(err) != "InvalidParameter" {
			t.Errorf("%s: Subscribe = %v, want InvalidParameter", name, err)
		}
	}
	if _, err := c.SetSubscriptionAttributes(ctx, &sns.SetSubscriptionAttributesInput{SubscriptionArn: aws.String(arn), AttributeName: aws.String("FilterPolicy"), AttributeValue: aws.String(`{"a":[]}`)}); apiCode(err) != "InvalidParameter" {
		t.Errorf("SetSubscriptionAttributes of an invalid policy = %v", err)
	}
	if got := policyOfSub(t, c, arn); got != other {
		t.Fatalf("a refused set changed the policy to %q", got)
	}
	if n := count(); n != before {
		t.Fatalf("refusals created subscriptions: %d, then %d", before, n)
	}

	// Unsubscribe forgets the policy.
	if _, err := c.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	if count() != before-1 {
		t.Fatal("unsubscribe did not remove the subscription")
	}
}

// The 201st filter policy on a topic is refused as SNS refuses it.
func TestSNSFrontPolicyQuotaPerTopic(t *testing.T) {
	c, topic := frontClient(t)
	ctx := context.Background()
	for i := range filterpolicy.MaxPerTopic {
		if _, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("email"), Endpoint: aws.String(fmt.Sprintf("p%d@example.com", i)),
			Attributes: map[string]string{"FilterPolicy": `{"kind":["live"]}`}}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("email"), Endpoint: aws.String("late@example.com"),
		Attributes: map[string]string{"FilterPolicy": `{"kind":["live"]}`}})
	if apiCode(err) != "FilterPolicyLimitExceeded" {
		t.Fatalf("201st policy: %v, want FilterPolicyLimitExceeded", err)
	}
	// A subscription without a policy is not limited.
	if _, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("email"), Endpoint: aws.String("all@example.com")}); err != nil {
		t.Fatal(err)
	}
}

// The front's generation moves with every request that may change a
// topic's subscriptions, and not with a publish: what the local inbox read
// of a topic's people stays right, and is read once per burst.
func TestSNSFrontGeneration(t *testing.T) {
	f, err := StartSNSFront(0, testenv.SNSEndpoint(t), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	c := testenv.SNSAt(f.URL)
	topic := testenv.CreateTopic(t, c, "generation")
	ctx := context.Background()
	g0 := f.Generation()
	if _, err := c.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("m")}); err != nil {
		t.Fatal(err)
	}
	if f.Generation() != g0 {
		t.Errorf("a publish moved the generation")
	}
	out, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("email"), Endpoint: aws.String("g@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	g1 := f.Generation()
	if g1 == g0 {
		t.Fatalf("a subscribe did not move the generation")
	}
	if _, err := c.SetSubscriptionAttributes(ctx, &sns.SetSubscriptionAttributesInput{SubscriptionArn: out.SubscriptionArn,
		AttributeName: aws.String("FilterPolicy"), AttributeValue: aws.String(`{"kind":["live"]}`)}); err != nil {
		t.Fatal(err)
	}
	g2 := f.Generation()
	if g2 == g1 {
		t.Errorf("a new policy did not move the generation")
	}
	if _, err := c.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: out.SubscriptionArn}); err != nil {
		t.Fatal(err)
	}
	if f.Generation() == g2 {
		t.Errorf("an unsubscribe did not move the generation")
	}
}
