package snsendpoint_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/streamhook/fastpix-receiver/internal/snsendpoint"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
)

// recorder keeps what an endpoint hands over.
type recorder struct {
	mu       sync.Mutex
	notified []snsendpoint.Message
	seen     []snsendpoint.Message
	failures []error
}

func (r *recorder) options() snsendpoint.Options {
	add := func(to *[]snsendpoint.Message) func(snsendpoint.Message) {
		return func(m snsendpoint.Message) {
			r.mu.Lock()
			defer r.mu.Unlock()
			*to = append(*to, m)
		}
	}
	return snsendpoint.Options{
		Notify: add(&r.notified),
		Seen:   add(&r.seen),
		Failed: func(err error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.failures = append(r.failures, err)
		},
	}
}

func (r *recorder) snapshot() (notified, seen []snsendpoint.Message, failures []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]snsendpoint.Message(nil), r.notified...), append([]snsendpoint.Message(nil), r.seen...), append([]error(nil), r.failures...)
}

// waitUntil polls cond: the endpoint hands messages over on its own
// goroutines.
func waitUntil(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func start(t *testing.T, r *recorder) *snsendpoint.Endpoint {
	t.Helper()
	e, err := snsendpoint.Start(r.options())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	if !strings.HasPrefix(e.URL, "http://127.0.0.1:") {
		t.Fatalf("URL %s is not on loopback", e.URL)
	}
	return e
}

// confirmCounter counts the confirmations SNS accepted, and can refuse to
// confirm at all.
type confirmCounter struct {
	*sns.Client
	refuse    bool
	confirmed atomic.Int32
}

func (c *confirmCounter) ConfirmSubscription(ctx context.Context, in *sns.ConfirmSubscriptionInput, opts ...func(*sns.Options)) (*sns.ConfirmSubscriptionOutput, error) {
	if c.refuse {
		return nil, errors.New("confirmation refused by the test")
	}
	out, err := c.Client.ConfirmSubscription(ctx, in, opts...)
	if err == nil {
		c.confirmed.Add(1)
	}
	return out, err
}

func subscribe(t *testing.T, e *snsendpoint.Endpoint, client snsendpoint.API, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := e.Subscribe(ctx, client, topic); err != nil {
		t.Fatal(err)
	}
}

func publish(t *testing.T, client *sns.Client, topic, subject, message string) {
	t.Helper()
	if _, err := client.Publish(context.Background(), &sns.PublishInput{
		TopicArn: aws.String(topic), Subject: aws.String(subject), Message: aws.String(message),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{"test": {DataType: aws.String("String"), StringValue: aws.String("true")}},
	}); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

func countType(ms []snsendpoint.Message, typ string) int {
	n := 0
	for _, m := range ms {
		if m.Type == typ {
			n++
		}
	}
	return n
}

// subscribed returns an endpoint subscribed to a fresh topic of the shared
// goaws, with the client that confirmed the subscription.
func subscribed(t *testing.T, base string) (client *sns.Client, topic string, r *recorder, e *snsendpoint.Endpoint, counter *confirmCounter) {
	t.Helper()
	client = testenv.SNS(t)
	topic = testenv.CreateTopic(t, client, base)
	r = &recorder{}
	e = start(t, r)
	counter = &confirmCounter{Client: client}
	subscribe(t, e, counter, topic)
	return client, topic, r, e, counter
}

func TestDelivery(t *testing.T) {
	client, topic, r, _, counter := subscribed(t, "delivery")
	if n := counter.confirmed.Load(); n != 1 {
		t.Fatalf("Subscribe returned after %d accepted confirmations, want 1", n)
	}
	publish(t, client, topic, "the subject", `{"default":"hello"}`)
	waitUntil(t, "the notification", 10*time.Second, func() bool { n, _, _ := r.snapshot(); return len(n) >= 1 })

	notified, seen, failures := r.snapshot()
	if len(notified) != 1 {
		t.Fatalf("%d notifications, want 1", len(notified))
	}
	n := notified[0]
	if n.Type != "Notification" || n.TopicArn != topic || n.Subject != "the subject" || n.Message != `{"default":"hello"}` || n.MessageId == "" {
		t.Errorf("notification %+v", n)
	}
	if a := n.MessageAttributes["test"]; a.Type != "String" || a.Value != "true" {
		t.Errorf("attribute test = %+v, want String true", a)
	}
	if !strings.Contains(string(n.Raw), `"Subject":"the subject"`) {
		t.Errorf("raw body %s does not hold the subject as sent", n.Raw)
	}
	// Seen has the confirmation request too, with its token, for leak checks.
	if countType(seen, "SubscriptionConfirmation") != 1 || countType(seen, "Notification") != 1 || len(seen) != 2 {
		t.Errorf("seen %d messages: %d confirmations, %d notifications; want 1 and 1", len(seen), countType(seen, "SubscriptionConfirmation"), countType(seen, "Notification"))
	}
	for _, m := range seen {
		if m.Type == "SubscriptionConfirmation" && (m.Token == "" || len(m.Raw) == 0) {
			t.Errorf("confirmation request without token or body: %+v", m)
		}
	}
	if len(failures) != 0 {
		t.Errorf("failures: %v", failures)
	}
}

// TestResubscribe deletes the topic and creates it anew, as the dead-letter
// drill does: a second Subscribe must wait for its own confirmation, and
// the topic's notifications then reach the endpoint once.
func TestResubscribe(t *testing.T) {
	client, topic, r, e, counter := subscribed(t, "resubscribe")
	ctx := context.Background()
	if _, err := client.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: aws.String(topic)}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(snsendpoint.TopicName(topic))}); err != nil {
		t.Fatal(err)
	}
	subscribe(t, e, counter, topic)
	if n := counter.confirmed.Load(); n != 2 {
		t.Fatalf("second Subscribe returned after %d accepted confirmations in all, want 2", n)
	}
	publish(t, client, topic, "after", "again")
	waitUntil(t, "the notification", 10*time.Second, func() bool { n, _, _ := r.snapshot(); return len(n) >= 1 })
	time.Sleep(200 * time.Millisecond) // a second copy would come now
	notified, _, failures := r.snapshot()
	if len(notified) != 1 || notified[0].Message != "again" {
		t.Errorf("notifications %+v, want the one message once", notified)
	}
	if len(failures) != 0 {
		t.Errorf("failures: %v", failures)
	}
}

func TestFailures(t *testing.T) {
	t.Run("a subscription that is never confirmed", func(t *testing.T) {
		t.Parallel()
		client := testenv.SNS(t)
		topic := testenv.CreateTopic(t, client, "unconfirmed")
		var r recorder
		e := start(t, &r)
		// goaws answers an http Subscribe after about a second.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := e.Subscribe(ctx, &confirmCounter{Client: client, refuse: true}, topic)
		if !errors.Is(err, snsendpoint.ErrNotConfirmed) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Subscribe: %v, want ErrNotConfirmed and the deadline", err)
		}
		// The confirmation retries for up to 10 s, then reports.
		waitUntil(t, "the confirmation failure", 20*time.Second, func() bool { _, _, f := r.snapshot(); return len(f) >= 1 })
		if _, _, f := r.snapshot(); !strings.Contains(f[0].Error(), "confirmation refused by the test") {
			t.Errorf("failure %v, want the client's error", f[0])
		}
	})
	t.Run("a POST that is not an SNS message", func(t *testing.T) {
		t.Parallel()
		var r recorder
		e := start(t, &r)
		resp, err := http.Post(e.URL+"/x", "text/plain", strings.NewReader("not json"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
		notified, seen, failures := r.snapshot()
		if len(failures) != 1 || !errors.Is(failures[0], snsendpoint.ErrUndecodable) || !strings.Contains(failures[0].Error(), "not json") {
			t.Errorf("failures %v, want one ErrUndecodable quoting the body", failures)
		}
		if len(notified)+len(seen) != 0 {
			t.Errorf("an undecodable POST was handed over: %v %v", notified, seen)
		}
	})
}
