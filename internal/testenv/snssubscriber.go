package testenv

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/streamhook/fastpix-receiver/internal/snsendpoint"
)

// Notification is one POST an SNS emulator made to a Subscriber, decoded,
// with the whole body as it arrived (Raw), so a test can search what a
// subscriber really received, not only the fields it knows.
type Notification = snsendpoint.Message

// Subscriber is an HTTP endpoint on 127.0.0.1 that SNS topics deliver to
// (protocol http), for tests: an snsendpoint.Endpoint that keeps every
// notification and fails the test on anything it cannot handle.
type Subscriber struct {
	ep *snsendpoint.Endpoint

	mu  sync.Mutex
	got []Notification
	raw [][]byte
}

// NewSubscriber starts a subscriber that stops when the test ends.
func NewSubscriber(t testing.TB) *Subscriber {
	t.Helper()
	s := &Subscriber{}
	ep, err := snsendpoint.Start(snsendpoint.Options{
		Notify: func(n Notification) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.got = append(s.got, n)
		},
		Seen: func(n Notification) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.raw = append(s.raw, n.Raw)
		},
		Failed: func(err error) { t.Errorf("subscriber: %v", err) },
	})
	if err != nil {
		t.Fatalf("subscriber: %v", err)
	}
	t.Cleanup(ep.Close)
	s.ep = ep
	return s
}

// Subscribe subscribes the endpoint to topicARN through client and waits
// until this subscription is confirmed. After an emulator restart (goaws
// keeps no subscriptions) call it again.
func (s *Subscriber) Subscribe(t testing.TB, client *sns.Client, topicARN string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.ep.Subscribe(ctx, client, topicARN); err != nil {
		t.Fatalf("subscribe to %s within 15 s: %v", topicARN, err)
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
