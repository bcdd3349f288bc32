// Package snsendpoint is an HTTP endpoint on loopback that SNS topics of the
// goaws emulator deliver to (protocol http): it subscribes itself, confirms
// its subscriptions as a real subscriber must, and hands every notification
// to its owner.
//
// The local stack's alert inbox and the tests' subscribers are both such an
// endpoint; having one keeps the goaws-specific handshake (see Subscribe and
// confirm) in one place instead of in every copy that once learned it.
package snsendpoint

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

// ErrNotConfirmed is returned by Subscribe when the subscription's own
// confirmation did not arrive before the context ended.
var ErrNotConfirmed = errors.New("subscription not confirmed")

// ErrUndecodable is reported when a POST is not an SNS message.
var ErrUndecodable = errors.New("not an SNS message")

// maxBody bounds what one POST may hold; SNS messages are at most 256 KiB.
const maxBody = 1 << 20

// Message is one POST SNS made to the endpoint, decoded, with the whole body
// as it arrived (Raw), so that a reader can search what a subscriber really
// received, not only the fields decoded here.
type Message struct {
	Type              string
	MessageId         string
	TopicArn          string
	Subject           string
	Message           string
	Token             string
	SubscribeURL      string
	MessageAttributes map[string]Attribute
	Raw               []byte `json:"-"`
}

// Attribute is one message attribute as SNS sends it to http subscribers.
type Attribute struct{ Type, Value string }

// API is what the endpoint needs of an SNS client: *sns.Client has it.
type API interface {
	Subscribe(ctx context.Context, in *sns.SubscribeInput, opts ...func(*sns.Options)) (*sns.SubscribeOutput, error)
	ConfirmSubscription(ctx context.Context, in *sns.ConfirmSubscriptionInput, opts ...func(*sns.Options)) (*sns.ConfirmSubscriptionOutput, error)
}

var _ API = (*sns.Client)(nil)

// Options says what the endpoint does with what it receives. Every field may
// be nil.
type Options struct {
	// Notify receives each Notification, before the endpoint answers SNS:
	// goaws delivers synchronously, so once Publish has returned the
	// notification has been handed over.
	Notify func(Message)
	// Seen receives every decoded POST, confirmations included, as it
	// arrived: what a check that nothing leaks must search.
	Seen func(Message)
	// Failed receives what went wrong: an undecodable POST
	// (ErrUndecodable), a subscription that could not be confirmed. A test
	// fails on it; by default it is logged.
	Failed func(error)
	// Logger logs failures when Failed is nil, and messages of other types
	// (slog.Default() when nil).
	Logger *slog.Logger
}

// Endpoint is the running HTTP endpoint. It implements http.Handler.
type Endpoint struct {
	// URL is the endpoint's base address (http://127.0.0.1:port).
	URL string

	opts Options
	srv  *http.Server

	mu   sync.Mutex
	subs map[string]*pending // topic ARN → the latest subscription
}

// pending is a subscription made through Subscribe: the client that made it
// confirms it, and done is closed once it is confirmed.
type pending struct {
	client API
	done   chan struct{}
}

// Start listens on a free loopback port and serves until Close.
func Start(opts Options) (*Endpoint, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("snsendpoint: listen: %w", err)
	}
	e := &Endpoint{URL: "http://" + l.Addr().String(), opts: opts, subs: map[string]*pending{}}
	e.srv = &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = e.srv.Serve(l) }()
	return e, nil
}

// Close stops the endpoint, letting requests in progress finish for a
// moment.
func (e *Endpoint) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = e.srv.Shutdown(ctx)
}

// Subscribe subscribes the endpoint to topicARN through client (protocol
// http, at URL/<topic name>, which makes goaws's subscription list
// readable) and waits until that subscription is confirmed, or ctx ends.
//
// It waits for this subscription's own confirmation, not for an earlier
// one: after a topic is deleted and created anew, or after goaws restarts
// (it keeps no subscriptions), calling Subscribe again really subscribes
// again. Two concurrent calls for one topic share one wait.
func (e *Endpoint) Subscribe(ctx context.Context, client API, topicARN string) error {
	e.mu.Lock()
	p, ok := e.subs[topicARN]
	if !ok || isClosed(p.done) {
		p = &pending{done: make(chan struct{})}
		e.subs[topicARN] = p
	}
	p.client = client
	e.mu.Unlock()
	if _, err := client.Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: aws.String(topicARN),
		Protocol: aws.String("http"),
		Endpoint: aws.String(e.URL + "/" + TopicName(topicARN)),
	}); err != nil {
		return fmt.Errorf("snsendpoint: subscribe %s to %s: %w", e.URL, topicARN, err)
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("snsendpoint: subscription of %s to %s: %w: %w", e.URL, topicARN, ErrNotConfirmed, ctx.Err())
	}
}

// TopicName is the last part of a topic ARN: the topic's name.
func TopicName(arn string) string {
	return arn[strings.LastIndex(arn, ":")+1:]
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// ServeHTTP receives SNS's POSTs.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	var m Message
	if err == nil {
		err = json.Unmarshal(body, &m)
	}
	if err != nil {
		e.failed(fmt.Errorf("snsendpoint: %w (%w): %q", ErrUndecodable, err, clip(body, 512)))
		http.Error(w, ErrUndecodable.Error(), http.StatusBadRequest)
		return
	}
	m.Raw = body
	if e.opts.Seen != nil {
		e.opts.Seen(m)
	}
	switch m.Type {
	case "SubscriptionConfirmation":
		// Answer first: goaws sends this from inside the Subscribe call,
		// and accepts the confirmation only once that call has returned.
		go e.confirm(m)
	case "Notification":
		if e.opts.Notify != nil {
			e.opts.Notify(m)
		}
	default:
		e.opts.Logger.Info("snsendpoint: SNS message ignored", "type", m.Type, "topic", m.TopicArn)
	}
	w.WriteHeader(http.StatusOK)
}

// confirm confirms a subscription with ConfirmSubscription through the
// client that subscribed (goaws v0.4.5 accepts it), retrying while goaws
// has not yet recorded the subscription, then releases Subscribe's wait.
func (e *Endpoint) confirm(m Message) {
	e.mu.Lock()
	p := e.subs[m.TopicArn]
	e.mu.Unlock()
	if p == nil {
		e.failed(fmt.Errorf("snsendpoint: confirmation for %s, which %s did not subscribe to", m.TopicArn, e.URL))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	for attempt := range 20 {
		_, err = p.client.ConfirmSubscription(ctx, &sns.ConfirmSubscriptionInput{TopicArn: aws.String(m.TopicArn), Token: aws.String(m.Token)})
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(attempt+1) * 50 * time.Millisecond):
		}
	}
	if err != nil {
		e.failed(fmt.Errorf("snsendpoint: confirm the subscription to %s: %w", m.TopicArn, err))
		return
	}
	e.mu.Lock()
	if !isClosed(p.done) {
		close(p.done)
	}
	e.mu.Unlock()
}

func (e *Endpoint) failed(err error) {
	if e.opts.Failed != nil {
		e.opts.Failed(err)
		return
	}
	e.opts.Logger.Error("snsendpoint: failure", "url", e.URL, "error", err.Error())
}

func clip(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
