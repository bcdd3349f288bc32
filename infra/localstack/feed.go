package localstack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/streamhook/fastpix-receiver/internal/snsendpoint"
	"github.com/streamhook/fastpix-receiver/pkg/changefeed"
)

// FeedTail is the local change feed's subscriber: an HTTP endpoint on
// loopback subscribed to the changes topic only, which keeps every change
// and writes it as one line. It is apart from the alert inbox, which a
// message per status change would drown.
type FeedTail struct {
	// URL is the endpoint's base address.
	URL string

	out    io.Writer
	ep     *snsendpoint.Endpoint
	client *sns.Client
	log    *slog.Logger

	mu      sync.Mutex
	changes []changefeed.Change
}

// StartFeedTail listens on a free loopback port; each change is written to
// out (nothing is written when out is nil); confirmations go through
// client.
func StartFeedTail(client *sns.Client, out io.Writer, log *slog.Logger) (*FeedTail, error) {
	if log == nil {
		log = slog.Default()
	}
	f := &FeedTail{out: out, client: client, log: log.With("component", "feed")}
	ep, err := snsendpoint.Start(snsendpoint.Options{Notify: f.receive, Logger: f.log})
	if err != nil {
		return nil, fmt.Errorf("localstack: change feed subscriber: %w", err)
	}
	f.ep, f.URL = ep, ep.URL
	return f, nil
}

// Close stops the endpoint.
func (f *FeedTail) Close() { f.ep.Close() }

// Subscribe subscribes the endpoint to the changes topic and waits until
// the subscription is confirmed.
func (f *FeedTail) Subscribe(ctx context.Context, topicARN string) error {
	if err := f.ep.Subscribe(ctx, f.client, topicARN); err != nil {
		return fmt.Errorf("localstack: change feed subscriber: %w", err)
	}
	return nil
}

// Changes returns the changes received so far, in arrival order.
func (f *FeedTail) Changes() []changefeed.Change {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]changefeed.Change(nil), f.changes...)
}

func (f *FeedTail) receive(n snsendpoint.Message) {
	c, err := changefeed.Decode(n.Message)
	if err != nil {
		f.log.Warn("not a change feed message", "topic", n.TopicArn, "messageId", n.MessageId, "error", err.Error())
		return
	}
	f.mu.Lock()
	f.changes = append(f.changes, c)
	f.mu.Unlock()
	if f.out != nil {
		fmt.Fprintln(f.out, FeedLine(c))
	}
}

// FeedLine is one change as the local feed prints it: when, what, which
// stream (and target), the status it left and the one it took.
func FeedLine(c changefeed.Change) string {
	when := c.OccurredAt
	if t, err := time.Parse(time.RFC3339Nano, c.OccurredAt); err == nil {
		when = t.UTC().Format("2006-01-02 15:04:05.000Z")
	}
	what := "stream " + c.StreamID
	if c.SimulcastTargetID != "" {
		what += " target " + c.SimulcastTargetID
	}
	previous := c.PreviousStatus
	if previous == "" {
		previous = "(none)"
	}
	test := ""
	if c.Test {
		test = " (test)"
	}
	mark := ""
	switch {
	case c.Mark != "" && c.HeldUntil != "":
		mark = " [" + c.Mark + " until " + c.HeldUntil + "]"
	case c.Mark != "":
		mark = " [" + c.Mark + "]"
	}
	return fmt.Sprintf("%s  %s%s: %s -> %s%s  (%s %s)", when, what, test, previous, c.Status, mark, c.EventType, c.EventID)
}
