package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/streamhook/fastpix-receiver/internal/snsendpoint"
)

// Alert is one notification the inbox received.
type Alert struct {
	Topic     string // the topic's name (its logical id locally)
	TopicARN  string
	MessageID string
	Subject   string
	Email     string
	SMS       string
	Default   string
	// Chat is the chat integration's custom notification (the "https"
	// key), "" when the message had none.
	Chat       string
	Attributes map[string]string
}

// Inbox is an HTTP endpoint on loopback subscribed to topics (an
// snsendpoint.Endpoint): it confirms each subscription as a real subscriber
// must, and keeps and prints every alert as the email and the SMS a person
// would receive.
//
// The notifier publishes with MessageStructure=json (default, email and sms
// renderings). Real SNS would send an http subscriber only the "default"
// rendering; goaws v0.4.5 sends the whole structure to http subscribers,
// which is what lets this inbox show the email and SMS texts. A message that
// is not such a structure is shown as it came.
type Inbox struct {
	// URL is the endpoint's base address.
	URL string

	out    io.Writer
	ep     *snsendpoint.Endpoint
	client *sns.Client

	router *router
	log    *slog.Logger

	mu      sync.Mutex
	alerts  []Alert
	routed  []Routed
	changed chan struct{} // closed and replaced on every alert
}

// StartInbox listens on a free loopback port. Alerts are printed to out
// (nothing is printed when out is nil); confirmations go through client.
func StartInbox(client *sns.Client, out io.Writer, log *slog.Logger) (*Inbox, error) {
	if log == nil {
		log = slog.Default()
	}
	in := &Inbox{out: out, client: client, changed: make(chan struct{}), router: &router{client: client, log: log}, log: log}
	ep, err := snsendpoint.Start(snsendpoint.Options{Notify: in.receive, Logger: log.With("component", "inbox")})
	if err != nil {
		return nil, fmt.Errorf("localstack: inbox: %w", err)
	}
	in.ep, in.URL = ep, ep.URL
	return in, nil
}

// Close stops the endpoint.
func (in *Inbox) Close() { in.ep.Close() }

// Subscribe subscribes the inbox to the topic (protocol http) and waits
// until the subscription is confirmed. Subscribing again (to a topic
// deleted and created anew) waits for the new confirmation.
func (in *Inbox) Subscribe(ctx context.Context, topicARN string) error {
	if err := in.ep.Subscribe(ctx, in.client, topicARN); err != nil {
		return fmt.Errorf("localstack: inbox: %w", err)
	}
	return nil
}

func (in *Inbox) receive(m snsendpoint.Message) {
	a := Alert{Topic: snsendpoint.TopicName(m.TopicArn), TopicARN: m.TopicArn, MessageID: m.MessageId, Subject: m.Subject, Attributes: map[string]string{}}
	for k, v := range m.MessageAttributes {
		a.Attributes[k] = v.Value
	}
	var structure map[string]string
	if err := json.Unmarshal([]byte(m.Message), &structure); err == nil && structure["default"] != "" {
		a.Default, a.Email, a.SMS, a.Chat = structure["default"], structure["email"], structure["sms"], structure["https"]
	} else {
		a.Default = m.Message
	}
	if a.Email == "" {
		a.Email = a.Default
	}
	if a.SMS == "" {
		a.SMS = a.Default
	}
	// Whom SNS would deliver it to: the people subscribed to the topic
	// whose filter policy matches (goaws does not filter for them).
	routed, err := in.router.route(a, m.MessageAttributes)
	if err != nil {
		in.log.Warn("inbox: routing", "error", err.Error())
	}
	in.mu.Lock()
	in.alerts = append(in.alerts, a)
	in.routed = append(in.routed, routed...)
	close(in.changed)
	in.changed = make(chan struct{})
	in.mu.Unlock()
	if in.out != nil {
		var b strings.Builder
		b.WriteString(FormatAlert(a))
		for _, d := range routed {
			b.WriteString(FormatRouted(d))
		}
		fmt.Fprint(in.out, b.String())
	}
}

// Routed returns the deliveries to people's subscriptions so far, oldest
// first.
func (in *Inbox) Routed() []Routed {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Routed(nil), in.routed...)
}

// Alerts returns the alerts received so far, oldest first.
func (in *Inbox) Alerts() []Alert {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Alert(nil), in.alerts...)
}

// WaitFor waits until at least n alerts have arrived, or ctx ends.
func (in *Inbox) WaitFor(ctx context.Context, n int) ([]Alert, error) {
	for {
		in.mu.Lock()
		got, changed := append([]Alert(nil), in.alerts...), in.changed
		in.mu.Unlock()
		if len(got) >= n {
			return got, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return got, errors.Join(fmt.Errorf("localstack: %d alerts arrived, waited for %d", len(got), n), ctx.Err())
		}
	}
}

// FormatAlert renders an alert as the inbox prints it.
func FormatAlert(a Alert) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n┌─ alert on %s ─────────────────────────────────────────\n", a.Topic)
	fmt.Fprintf(&b, "│ EMAIL  Subject: %s\n", a.Subject)
	for line := range strings.SplitSeq(strings.TrimRight(a.Email, "\n"), "\n") {
		fmt.Fprintf(&b, "│        %s\n", line)
	}
	fmt.Fprintf(&b, "│ SMS    %s\n", a.SMS)
	b.WriteString("└──────────────────────────────────────────────────────────────\n")
	return b.String()
}
