package emulatortest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// Notification is one POST an SNS emulator made to a Subscriber, decoded,
// with the whole body as it arrived (Raw), so a test can search what a
// subscriber really received, not only the fields it knows.
type Notification struct {
	Type              string
	MessageId         string
	TopicArn          string
	Subject           string
	Message           string
	Token             string
	SubscribeURL      string
	MessageAttributes map[string]struct{ Type, Value string }
	Raw               []byte `json:"-"`
}

// Subscriber is an HTTP endpoint on 127.0.0.1 that SNS topics deliver to
// (protocol http). It confirms subscriptions and keeps every notification.
type Subscriber struct {
	t   testing.TB
	srv *httptest.Server

	mu        sync.Mutex
	got       []Notification
	raw       [][]byte
	confirmed map[string]chan struct{}
	client    *sns.Client
}

// NewSubscriber starts a subscriber that stops when the test ends.
func NewSubscriber(t testing.TB) *Subscriber {
	s := &Subscriber{t: t, confirmed: map[string]chan struct{}{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the endpoint to subscribe.
func (s *Subscriber) URL() string { return s.srv.URL }

func (s *Subscriber) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var n Notification
	if err == nil {
		err = json.Unmarshal(body, &n)
	}
	if err != nil {
		s.t.Errorf("subscriber: undecodable POST (%v): %q", err, body)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	n.Raw = body
	s.mu.Lock()
	s.raw = append(s.raw, body)
	if n.Type == "Notification" {
		s.got = append(s.got, n)
	}
	client := s.client
	s.mu.Unlock()
	if n.Type == "SubscriptionConfirmation" {
		// Answer first: goaws sends the confirmation request from inside
		// the Subscribe call and accepts the confirmation only after that
		// call has returned.
		go s.confirm(client, n)
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Subscriber) confirm(client *sns.Client, n Notification) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	for attempt := range 20 {
		if client == nil {
			break
		}
		_, err = client.ConfirmSubscription(ctx, &sns.ConfirmSubscriptionInput{TopicArn: aws.String(n.TopicArn), Token: aws.String(n.Token)})
		if err == nil {
			ch := s.confirmedChan(n.TopicArn)
			s.mu.Lock()
			select {
			case <-ch:
			default:
				close(ch)
			}
			s.mu.Unlock()
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(attempt+1) * 50 * time.Millisecond):
		}
	}
	s.t.Errorf("subscriber: confirm subscription to %s: %v", n.TopicArn, err)
}

func (s *Subscriber) confirmedChan(topicARN string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.confirmed[topicARN]
	if !ok {
		ch = make(chan struct{})
		s.confirmed[topicARN] = ch
	}
	return ch
}

// Subscribe subscribes the endpoint to topicARN through client and waits
// until the subscription is confirmed. After an emulator restart (goaws
// keeps no subscriptions) call it again.
func (s *Subscriber) Subscribe(t testing.TB, client *sns.Client, topicARN string) {
	t.Helper()
	s.mu.Lock()
	s.client = client
	s.confirmed[topicARN] = make(chan struct{}) // a fresh wait after a restart
	done := s.confirmed[topicARN]
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := client.Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: aws.String(topicARN), Protocol: aws.String("http"), Endpoint: aws.String(s.srv.URL),
	}); err != nil {
		t.Fatalf("subscribe to %s: %v", topicARN, err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("subscription to %s not confirmed within 15 s", topicARN)
	}
}

// Notifications returns the notifications received so far.
func (s *Subscriber) Notifications() []Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Notification(nil), s.got...)
}

// Take returns the notifications received since the last Take and forgets
// them.
func (s *Subscriber) Take() []Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	got := s.got
	s.got = nil
	return got
}

// Bodies returns every POST body received, confirmations included, as it
// arrived: what a leak check must search.
func (s *Subscriber) Bodies() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.raw...)
}
