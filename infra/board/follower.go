package board

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/streamhook/fastpix-receiver/pkg/changefeed"
)

// QueuePrefix starts the name of every queue a board creates: the board
// users' IAM policy allows SQS on these names only, and the sweep finds a
// crashed board's queue by it.
const QueuePrefix = "fastpix-board-"

// TagBoard is the tag on a board's queue (where the service keeps tags):
// which machine and process made it.
const TagBoard = "fastpix-board"

// Defaults of a Follower.
const (
	// DefaultWait is the long poll: one request per 20 s when the feed is
	// quiet, whatever the size of the fleet.
	DefaultWait = 20 * time.Second
	// queueRetention keeps a message an hour at most: a queue left behind
	// does not pile up a day of the feed.
	queueRetention = "3600"
)

// Errors of a Follower, for callers to branch on with errors.Is.
var (
	// ErrNotStarted: Run or Close before a successful Start.
	ErrNotStarted = errors.New("board: follower not started")
)

// SNSAPI is the part of the SNS client a Follower uses.
type SNSAPI interface {
	Subscribe(context.Context, *sns.SubscribeInput, ...func(*sns.Options)) (*sns.SubscribeOutput, error)
	Unsubscribe(context.Context, *sns.UnsubscribeInput, ...func(*sns.Options)) (*sns.UnsubscribeOutput, error)
	ListSubscriptionsByTopic(context.Context, *sns.ListSubscriptionsByTopicInput, ...func(*sns.Options)) (*sns.ListSubscriptionsByTopicOutput, error)
}

// Follower follows the change feed through a queue of its own: Start
// creates a queue that only the feed topic may send to and subscribes it
// (with a filter policy on the workspace when Workspace is set), Run
// long-polls it, Close unsubscribes and deletes it.
//
// The queue's name carries the machine (a hash of its host name) and the
// process id, so Sweep, at the next start on the same machine, finds the
// queue and subscription of a board that died without Close and removes
// them, while it leaves those of a board still running alone.
type Follower struct {
	SNS       SNSAPI
	Queues    Queues
	TopicARN  string
	Workspace string
	Log       *slog.Logger
	// Wait is the long poll (DefaultWait when 0).
	Wait time.Duration
	// Host and PID name the queue (this machine and process when empty);
	// Alive says whether a process of this machine still runs (a signal-0
	// probe when nil).
	Host  string
	PID   int
	Alive func(pid int) bool
	// Resubscribed, when set, is called after Run replaced a queue that
	// was deleted under it: the changes sent meanwhile are lost to the
	// feed, so the caller reads the fleet again.
	Resubscribed func(ctx context.Context)

	queueURL, queueARN, subscriptionARN string
}

func (f *Follower) log() *slog.Logger {
	if f.Log != nil {
		return f.Log
	}
	return slog.Default()
}

func (f *Follower) host() string {
	if f.Host != "" {
		return f.Host
	}
	return HostTag()
}

func (f *Follower) pid() int {
	if f.PID != 0 {
		return f.PID
	}
	return os.Getpid()
}

// HostTag names this machine in queue names: 8 hex digits of a hash of
// its host name (the name itself stays off AWS).
func HostTag() string {
	h, _ := os.Hostname() // "" hashes too: one tag for a nameless machine
	sum := sha256.Sum256([]byte(h))
	return hex.EncodeToString(sum[:4])
}

// processAlive probes a process of this machine with signal 0. A zombie
// (killed, not yet reaped: Linux's /proc says state Z) answers the probe
// but runs no board.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	if err := p.Signal(syscall.Signal(0)); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
		// pid (comm) state …: comm may hold spaces and parentheses.
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return false
		}
	}
	return true
}

// parseQueueName reads the machine and process out of a board queue's
// name (or of a URL or ARN ending with it).
func parseQueueName(s string) (host string, pid int, ok bool) {
	if i := strings.LastIndexAny(s, "/:"); i >= 0 {
		s = s[i+1:]
	}
	rest, found := strings.CutPrefix(s, QueuePrefix)
	if !found {
		return "", 0, false
	}
	parts := strings.Split(rest, "-")
	if len(parts) != 3 {
		return "", 0, false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 {
		return "", 0, false
	}
	return parts[0], pid, true
}

// QueueURL is the board's queue ("" before Start).
func (f *Follower) QueueURL() string { return f.queueURL }

// Start creates and subscribes the board's queue. On failure it removes
// what it created.
func (f *Follower) Start(ctx context.Context) (err error) {
	if f.TopicARN == "" {
		return errors.New("board: no change feed topic (CHANGES_TOPIC_ARN, the stack's StreamChangesTopicArn output)")
	}
	var rnd [3]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand does not fail on supported systems
	name := fmt.Sprintf("%s%s-%d-%s", QueuePrefix, f.host(), f.pid(), hex.EncodeToString(rnd[:]))
	defer func() {
		if err != nil {
			if cerr := f.Close(context.WithoutCancel(ctx)); cerr != nil && !errors.Is(cerr, ErrNotStarted) {
				f.log().Warn("board: cleaning up after a failed start", "err", cerr)
			}
		}
	}()
	// Encrypted at rest with SQS's own key: the feed topic's key need not
	// be shared with the board.
	attrs := map[string]string{"MessageRetentionPeriod": queueRetention, "SqsManagedSseEnabled": "true"}
	tags := map[string]string{TagBoard: f.host() + "/" + strconv.Itoa(f.pid())}
	if f.queueURL, f.queueARN, err = f.Queues.Create(ctx, name, attrs, tags); err != nil {
		return err
	}
	if err := f.Queues.SetPolicy(ctx, f.queueURL, QueuePolicy(f.queueARN, f.TopicARN)); err != nil {
		return err
	}
	sub := &sns.SubscribeInput{
		TopicArn: aws.String(f.TopicARN), Protocol: aws.String("sqs"), Endpoint: aws.String(f.queueARN),
		Attributes:            map[string]string{"RawMessageDelivery": "true"},
		ReturnSubscriptionArn: true,
	}
	if f.Workspace != "" {
		fp, err := json.Marshal(map[string][]string{changefeed.AttrWorkspaceID: {f.Workspace}})
		if err != nil {
			return fmt.Errorf("board: filter policy: %w", err)
		}
		sub.Attributes["FilterPolicy"] = string(fp)
	}
	out, err := f.SNS.Subscribe(ctx, sub)
	if err != nil {
		return fmt.Errorf("board: subscribe %s to %s: %w", name, f.TopicARN, err)
	}
	f.subscriptionARN = aws.ToString(out.SubscriptionArn)
	f.log().Info("board: following the change feed", "queue", name, "topic", f.TopicARN, "workspace", f.Workspace)
	return nil
}

// QueuePolicy lets the feed topic, and nothing else, send to the queue.
func QueuePolicy(queueARN, topicARN string) string {
	b, _ := json.Marshal(map[string]any{ // maps of strings always encode
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Sid":       "ChangeFeedOnly",
			"Effect":    "Allow",
			"Principal": map[string]string{"Service": "sns.amazonaws.com"},
			"Action":    "sqs:SendMessage",
			"Resource":  queueARN,
			"Condition": map[string]any{"ArnEquals": map[string]string{"aws:SourceArn": topicARN}},
		}},
	})
	return string(b)
}

// Run long-polls the queue until ctx ends, handing each change to apply
// and deleting the messages it read. A message that is not a change is
// logged and deleted (it would come back forever); a failed poll is
// retried with a growing pause, reported through health when set, which
// is called with nil again once a poll succeeds.
func (f *Follower) Run(ctx context.Context, apply func(Change), health func(error)) error {
	if f.queueURL == "" {
		return ErrNotStarted
	}
	wait := f.Wait
	if wait <= 0 {
		wait = DefaultWait
	}
	backoff := time.Duration(0)
	// pause says why the feed is not read, and waits longer each time (1 s
	// doubling to 30 s) before the next try.
	pause := func(ctx context.Context, msg string, err error) {
		backoff = min(max(2*backoff, time.Second), 30*time.Second)
		f.log().Warn(msg, "err", err, "in", backoff)
		if health != nil {
			health(err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
	}
	for ctx.Err() == nil {
		if f.queueURL == "" {
			// The queue was deleted under the board: subscribe a new one.
			if err := f.Start(ctx); err != nil {
				if ctx.Err() != nil {
					break
				}
				pause(ctx, "board: subscribing a new queue failed, retrying", err)
				continue
			}
			backoff = 0
			if health != nil {
				health(nil)
			}
			if f.Resubscribed != nil {
				f.Resubscribed(ctx)
			}
		}
		ms, err := f.Queues.Receive(ctx, f.queueURL, wait)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if errors.Is(err, ErrQueueGone) {
				f.log().Warn("board: its queue was deleted; subscribing a new one", "queue", f.queueURL)
				if health != nil {
					health(err)
				}
				// The old subscription points at nothing: drop it (if that
				// fails, the next board's sweep does).
				if f.subscriptionARN != "" {
					if _, err := f.SNS.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: aws.String(f.subscriptionARN)}); err != nil {
						f.log().Warn("board: unsubscribing the deleted queue failed", "err", err)
					}
				}
				f.queueURL, f.queueARN, f.subscriptionARN = "", "", ""
				continue
			}
			pause(ctx, "board: reading the change feed failed, retrying", err)
			continue
		}
		if backoff > 0 && health != nil {
			health(nil)
		}
		backoff = 0
		receipts := make([]string, 0, len(ms))
		for _, m := range ms {
			if isConfirmation(m.Body) {
				// SNS confirms a queue of the topic's own account by
				// itself; a request to confirm means another account.
				f.log().Warn("board: the feed asks to confirm the subscription: is the topic in another account? (the board subscribes a queue of the topic's account)")
				receipts = append(receipts, m.Receipt)
				continue
			}
			c, err := DecodeChange([]byte(unwrapEnvelope(m.Body)))
			if err != nil {
				f.log().Warn("board: skipped a message of the feed", "err", err)
			} else {
				apply(c)
			}
			receipts = append(receipts, m.Receipt)
		}
		if len(receipts) > 0 {
			// Deleting is tidiness, not correctness: a change seen twice
			// is applied once (changes are ordered by their time).
			if err := f.Queues.Delete(context.WithoutCancel(ctx), f.queueURL, receipts); err != nil {
				f.log().Warn("board: deleting read messages failed", "err", err)
			}
		}
	}
	return nil
}

// unwrapEnvelope returns the message of an SNS notification envelope (a
// subscription without raw delivery), or body as it is.
func unwrapEnvelope(body string) string {
	var env struct {
		Type    string `json:"Type"`
		Message string `json:"Message"`
	}
	if json.Unmarshal([]byte(body), &env) == nil && env.Type == "Notification" && env.Message != "" {
		return env.Message
	}
	return body
}

// isConfirmation reports whether body is SNS's subscription confirmation
// request (sent as an envelope even with raw delivery).
func isConfirmation(body string) bool {
	var env struct {
		Type string `json:"Type"`
	}
	return json.Unmarshal([]byte(body), &env) == nil && env.Type == "SubscriptionConfirmation"
}

// Close unsubscribes and deletes the queue; it tries both and reports
// what failed.
func (f *Follower) Close(ctx context.Context) error {
	if f.queueURL == "" && f.subscriptionARN == "" {
		return ErrNotStarted
	}
	var errs []error
	if f.subscriptionARN != "" {
		if _, err := f.SNS.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: aws.String(f.subscriptionARN)}); err != nil {
			errs = append(errs, fmt.Errorf("board: unsubscribe %s: %w", f.subscriptionARN, err))
		} else {
			f.subscriptionARN = ""
		}
	}
	if f.queueURL != "" {
		if err := f.Queues.DeleteQueue(ctx, f.queueURL); err != nil {
			errs = append(errs, err)
		} else {
			f.queueURL = ""
		}
	}
	return errors.Join(errs...)
}

// Sweep removes the subscriptions and queues that boards of this machine
// left behind: those named for a process that no longer runs. It finds
// them through the feed topic's subscriptions (a leftover costs only while
// it is subscribed; a queue nothing sends to is free), so it needs no
// right to list the account's queues. It returns what it removed
// (subscription ARNs and queue URLs).
func (f *Follower) Sweep(ctx context.Context) ([]string, error) {
	if f.TopicARN == "" {
		return nil, nil
	}
	alive := f.Alive
	if alive == nil {
		alive = processAlive
	}
	var removed []string
	var errs []error
	in := &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(f.TopicARN)}
	for {
		out, err := f.SNS.ListSubscriptionsByTopic(ctx, in)
		if err != nil {
			errs = append(errs, fmt.Errorf("board: list the subscriptions of %s: %w", f.TopicARN, err))
			break
		}
		for _, s := range out.Subscriptions {
			endpoint := aws.ToString(s.Endpoint)
			host, pid, ok := parseQueueName(endpoint)
			if aws.ToString(s.Protocol) != "sqs" || !ok || host != f.host() || pid == f.pid() || alive(pid) {
				continue
			}
			if _, err := f.SNS.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: s.SubscriptionArn}); err != nil {
				errs = append(errs, fmt.Errorf("board: unsubscribe %s: %w", aws.ToString(s.SubscriptionArn), err))
				continue
			}
			removed = append(removed, aws.ToString(s.SubscriptionArn))
			u, err := f.Queues.URL(ctx, endpoint)
			if err != nil {
				continue // the queue is gone already
			}
			if err := f.Queues.DeleteQueue(ctx, u); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, u)
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	if len(removed) > 0 {
		f.log().Info("board: removed what a board that did not stop cleanly left", "removed", removed)
	}
	return removed, errors.Join(errs...)
}
