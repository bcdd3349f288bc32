package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/streamhook/fastpix-receiver/internal/snsendpoint"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/filterpolicy"
)

// Routed is an alert as one person's subscription receives it: what SNS
// would deliver to an email address, a phone or an https endpoint
// subscribed to the topic, after the subscription's filter policy.
type Routed struct {
	Alert
	Protocol, Endpoint, SubscriptionARN string
	// Policy is the subscription's filter policy ("" for none).
	Policy string
}

// routedProtocols are the protocols delivered here: goaws keeps email and
// sms subscriptions but sends nothing to them, and sends https ones every
// message whatever their policy. (http is the inbox's own and the tests'
// subscribers, which take every message, as subscriptions without a
// policy do.)
var routedProtocols = map[string]bool{"email": true, "email-json": true, "sms": true, "https": true}

// router delivers each alert the inbox receives to the people subscribed
// to its topic whose filter policy matches, with SNS's semantics
// (pkg/filterpolicy): goaws v0.4.5 applies filter policies only to SQS
// subscriptions, and only as exact string matches. The policies are read
// through the stack's SNS front, which keeps them as written.
type router struct {
	client *sns.Client
	log    *slog.Logger
	// generation, when set, is the SNS front's (awslocal.SNSFront): what
	// was read of a topic is kept while it stays the same, so a burst of
	// alerts does not list the subscriptions once each.
	generation func() int64

	mu    sync.Mutex
	known map[string]knownPeople // by topic ARN
}

type knownPeople struct {
	generation int64
	people     []Routed
}

// people lists the topic's routed subscriptions with their policies.
func (r *router) people(ctx context.Context, topicARN string) ([]Routed, error) {
	if r.generation == nil {
		return r.list(ctx, topicARN)
	}
	gen := r.generation()
	r.mu.Lock()
	k, ok := r.known[topicARN]
	r.mu.Unlock()
	if ok && k.generation == gen {
		return k.people, nil
	}
	people, err := r.list(ctx, topicARN)
	if err != nil {
		return nil, err
	}
	if r.generation() == gen { // nothing changed while it was read
		r.mu.Lock()
		if r.known == nil {
			r.known = map[string]knownPeople{}
		}
		r.known[topicARN] = knownPeople{generation: gen, people: people}
		r.mu.Unlock()
	}
	return people, nil
}

// list reads the topic's routed subscriptions with their policies.
func (r *router) list(ctx context.Context, topicARN string) ([]Routed, error) {
	var out []Routed
	in := &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topicARN)}
	for {
		page, err := r.client.ListSubscriptionsByTopic(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("localstack: list the subscriptions of %s: %w", topicARN, err)
		}
		for _, s := range page.Subscriptions {
			if !routedProtocols[aws.ToString(s.Protocol)] {
				continue
			}
			p := Routed{Protocol: aws.ToString(s.Protocol), Endpoint: aws.ToString(s.Endpoint), SubscriptionARN: aws.ToString(s.SubscriptionArn)}
			attrs, err := r.client.GetSubscriptionAttributes(ctx, &sns.GetSubscriptionAttributesInput{SubscriptionArn: s.SubscriptionArn})
			if err != nil {
				return nil, fmt.Errorf("localstack: read the subscription %s: %w", p.SubscriptionARN, err)
			}
			switch text := strings.TrimSpace(attrs.Attributes["FilterPolicy"]); text {
			case "", "{}", "null":
			default:
				p.Policy = text
			}
			out = append(out, p)
		}
		if aws.ToString(page.NextToken) == "" {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}

// route returns the deliveries of a: one per routed subscription of its
// topic whose policy matches a's attributes.
func (r *router) route(a Alert, attrs map[string]snsendpoint.Attribute) ([]Routed, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	people, err := r.people(ctx, a.TopicARN)
	if err != nil {
		return nil, err
	}
	msgAttrs := make(map[string]filterpolicy.Attribute, len(attrs))
	for k, v := range attrs {
		msgAttrs[k] = filterpolicy.Attribute{Type: v.Type, Value: v.Value}
	}
	var out []Routed
	var errs []error
	for _, p := range people {
		var policy *filterpolicy.Policy
		if p.Policy != "" {
			if policy, err = filterpolicy.Parse(p.Policy); err != nil {
				// SNS would have refused it; deliver nothing rather than
				// everything.
				errs = append(errs, fmt.Errorf("localstack: subscription %s: %w", p.SubscriptionARN, err))
				continue
			}
		}
		if policy.Match(msgAttrs) {
			p.Alert = a
			out = append(out, p)
		}
	}
	return out, errors.Join(errs...)
}

// FormatRouted renders a delivery as the inbox prints it: who received
// the alert, and the line they read.
func FormatRouted(d Routed) string {
	line := d.SMS
	switch d.Protocol {
	case "email", "email-json":
		line = "Subject: " + d.Subject
	case "https":
		// What SNS sends an https subscriber: the chat rendering.
		line = cutLine(d.Default, 100)
		var n struct {
			Content struct{ Title string } `json:"content"`
		}
		if json.Unmarshal([]byte(d.Chat), &n) == nil && n.Content.Title != "" {
			line = "chat: " + n.Content.Title
		}
	}
	return fmt.Sprintf("  -> to %s (%s): %s\n", alerts.OneLine(d.Endpoint), d.Protocol, alerts.OneLine(line))
}

func cutLine(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-2]) + ".."
	}
	return s
}
