package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// Alert is one notification the inbox received.
type Alert struct {
	Topic      string // the topic's name (its logical id locally)
	TopicARN   string
	MessageID  string
	Subject    string
	Email      string
	SMS        string
	Default    string
	Attributes map[string]string
}

// Inbox is an HTTP endpoint on loopback subscribed to topics: it confirms
// each subscription as a real subscriber must, and keeps and prints every
// alert as the email and the SMS a person would receive.
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
	log    *slog.Logger
	srv    *http.Server
	client *sns.Client

	mu        sync.Mutex
	alerts    []Alert
	confirmed map[string]chan struct{} // topic ARN → closed once confirmed
	changed   chan struct{}            // closed and replaced on every alert
}

// snsMessage is what SNS POSTs to an http subscriber.
type snsMessage struct {
	Type              string `json:"Type"`
	MessageID         string `json:"MessageId"`
	Token             string `json:"Token"`
	TopicArn          string `json:"TopicArn"`
	Subject           string `json:"Subject"`
	Message           string `json:"Message"`
	MessageAttributes map[string]struct {
		Type  string `json:"Type"`
		Value string `json:"Value"`
	} `json:"MessageAttributes"`
}

// StartInbox listens on a free loopback port. Alerts are printed to out
// (nothing is printed when out is nil); confirmations go through client.
func StartInbox(client *sns.Client, out io.Writer, log *slog.Logger) (*Inbox, error) {
	if log == nil {
		log = slog.Default()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("localstack: inbox listen: %w", err)
	}
	in := &Inbox{
		URL:       "http://" + l.Addr().String(),
		out:       out,
		log:       log,
		client:    client,
		confirmed: map[string]chan struct{}{},
		changed:   make(chan struct{}),
	}
	in.srv = &http.Server{Handler: in, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = in.srv.Serve(l) }()
	return in, nil
}

// Close stops the endpoint.
func (in *Inbox) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = in.srv.Shutdown(ctx)
}

func (in *Inbox) confirmedChan(topicARN string) chan struct{} {
	in.mu.Lock()
	defer in.mu.Unlock()
	ch, ok := in.confirmed[topicARN]
	if !ok {
		ch = make(chan struct{})
		in.confirmed[topicARN] = ch
	}
	return ch
}

// Subscribe subscribes the inbox to the topic (protocol http) and waits
// until the subscription is confirmed. Subscribing again (to a topic
// deleted and created anew) waits for the new confirmation.
func (in *Inbox) Subscribe(ctx context.Context, topicARN string) error {
	done := in.confirmedChan(topicARN)
	in.mu.Lock()
	select {
	case <-done: // confirmed before: wait for this subscription's own
		done = make(chan struct{})
		in.confirmed[topicARN] = done
	default:
	}
	in.mu.Unlock()
	_, err := in.client.Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: aws.String(topicARN),
		Protocol: aws.String("http"),
		Endpoint: aws.String(in.URL + "/" + topicName(topicARN)),
	})
	if err != nil {
		return fmt.Errorf("localstack: subscribe the inbox to %s: %w", topicARN, err)
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("localstack: subscription of the inbox to %s not confirmed: %w", topicARN, ctx.Err())
	}
}

func topicName(arn string) string {
	return arn[strings.LastIndex(arn, ":")+1:]
}

// ServeHTTP receives SNS's POSTs.
func (in *Inbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m snsMessage
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m); err != nil {
		http.Error(w, "not an SNS message", http.StatusBadRequest)
		return
	}
	switch m.Type {
	case "SubscriptionConfirmation":
		// Answer first: goaws sends this from inside the Subscribe call, and
		// confirms only once that call has returned.
		go in.confirm(m)
	case "Notification":
		in.receive(m)
	default:
		in.log.Info("inbox: SNS message ignored", "type", m.Type, "topic", m.TopicArn)
	}
	w.WriteHeader(http.StatusOK)
}

func (in *Inbox) confirm(m snsMessage) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	for attempt := range 20 {
		_, err = in.client.ConfirmSubscription(ctx, &sns.ConfirmSubscriptionInput{TopicArn: aws.String(m.TopicArn), Token: aws.String(m.Token)})
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(attempt+1) * 50 * time.Millisecond):
		}
	}
	if err != nil {
		in.log.Error("inbox: confirm subscription", "topic", m.TopicArn, "error", err.Error())
		return
	}
	ch := in.confirmedChan(m.TopicArn)
	in.mu.Lock()
	select {
	case <-ch:
	default:
		close(ch)
	}
	in.mu.Unlock()
}

func (in *Inbox) receive(m snsMessage) {
	a := Alert{Topic: topicName(m.TopicArn), TopicARN: m.TopicArn, MessageID: m.MessageID, Subject: m.Subject, Attributes: map[string]string{}}
	for k, v := range m.MessageAttributes {
		a.Attributes[k] = v.Value
	}
	var structure map[string]string
	if err := json.Unmarshal([]byte(m.Message), &structure); err == nil && structure["default"] != "" {
		a.Default, a.Email, a.SMS = structure["default"], structure["email"], structure["sms"]
	} else {
		a.Default = m.Message
	}
	if a.Email == "" {
		a.Email = a.Default
	}
	if a.SMS == "" {
		a.SMS = a.Default
	}
	in.mu.Lock()
	in.alerts = append(in.alerts, a)
	close(in.changed)
	in.changed = make(chan struct{})
	in.mu.Unlock()
	if in.out != nil {
		fmt.Fprint(in.out, FormatAlert(a))
	}
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
