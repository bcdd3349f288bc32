package board

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/streamhook/fastpix-receiver/infra/ops"
)

// ErrQueueGone: the queue does not exist (someone deleted it); the
// follower subscribes a new one.
var ErrQueueGone = errors.New("board: the queue does not exist")

// nonExistentQueue is SQS's error code for a missing queue in the query
// protocol (goaws answers with it too).
const nonExistentQueue = "AWS.SimpleQueueService.NonExistentQueue"

// QueueMessage is one message received from the board's queue.
type QueueMessage struct {
	Body    string
	Receipt string
}

// Queues is what the board does with SQS: its own queue's life, and
// reading it. SDKQueues is Amazon SQS; QueryQueues is the local stack's
// goaws, which speaks only SQS's older query protocol.
type Queues interface {
	// Create creates the queue (tags on it where the service keeps them)
	// and returns its URL and ARN.
	Create(ctx context.Context, name string, attrs, tags map[string]string) (queueURL, arn string, err error)
	// SetPolicy sets the queue's access policy.
	SetPolicy(ctx context.Context, queueURL, policy string) error
	// Receive long-polls for up to wait.
	Receive(ctx context.Context, queueURL string, wait time.Duration) ([]QueueMessage, error)
	// Delete deletes received messages.
	Delete(ctx context.Context, queueURL string, receipts []string) error
	// DeleteQueue deletes the queue.
	DeleteQueue(ctx context.Context, queueURL string) error
	// URL finds the URL of the queue with ARN arn.
	URL(ctx context.Context, arn string) (string, error)
}

// SQSAPI is the part of the SDK's SQS client SDKQueues uses.
type SQSAPI interface {
	CreateQueue(context.Context, *sqs.CreateQueueInput, ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	SetQueueAttributes(context.Context, *sqs.SetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.SetQueueAttributesOutput, error)
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(context.Context, *sqs.DeleteMessageBatchInput, ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	DeleteQueue(context.Context, *sqs.DeleteQueueInput, ...func(*sqs.Options)) (*sqs.DeleteQueueOutput, error)
	GetQueueUrl(context.Context, *sqs.GetQueueUrlInput, ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
}

// SDKQueues is Amazon SQS through the SDK.
type SDKQueues struct {
	Client SQSAPI
}

var (
	_ Queues = (*SDKQueues)(nil)
	_ Queues = (*QueryQueues)(nil)
)

// Create implements Queues.
func (q *SDKQueues) Create(ctx context.Context, name string, attrs, tags map[string]string) (string, string, error) {
	out, err := q.Client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs, Tags: tags})
	if err != nil {
		return "", "", fmt.Errorf("board: create queue %s: %w", name, err)
	}
	u := aws.ToString(out.QueueUrl)
	a, err := q.Client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return u, "", fmt.Errorf("board: the ARN of queue %s: %w", name, err)
	}
	return u, a.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], nil
}

// SetPolicy implements Queues.
func (q *SDKQueues) SetPolicy(ctx context.Context, queueURL, policy string) error {
	if _, err := q.Client.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(queueURL), Attributes: map[string]string{"Policy": policy}}); err != nil {
		return fmt.Errorf("board: set the policy of %s: %w", queueURL, err)
	}
	return nil
}

// Receive implements Queues.
func (q *SDKQueues) Receive(ctx context.Context, queueURL string, wait time.Duration) ([]QueueMessage, error) {
	out, err := q.Client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: int32(wait / time.Second)})
	if err != nil {
		if _, gone := errors.AsType[*sqstypes.QueueDoesNotExist](err); gone {
			return nil, fmt.Errorf("%w: receive from %s: %w", ErrQueueGone, queueURL, err)
		}
		return nil, fmt.Errorf("board: receive from %s: %w", queueURL, err)
	}
	ms := make([]QueueMessage, 0, len(out.Messages))
	for _, m := range out.Messages {
		ms = append(ms, QueueMessage{Body: aws.ToString(m.Body), Receipt: aws.ToString(m.ReceiptHandle)})
	}
	return ms, nil
}

// Delete implements Queues.
func (q *SDKQueues) Delete(ctx context.Context, queueURL string, receipts []string) error {
	for len(receipts) > 0 {
		n := min(len(receipts), 10)
		entries := make([]sqstypes.DeleteMessageBatchRequestEntry, n)
		for i, r := range receipts[:n] {
			entries[i] = sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(r)}
		}
		out, err := q.Client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
		if err != nil {
			return fmt.Errorf("board: delete messages from %s: %w", queueURL, err)
		}
		if len(out.Failed) > 0 {
			return fmt.Errorf("board: delete messages from %s: %d failed (%s)", queueURL, len(out.Failed), aws.ToString(out.Failed[0].Message))
		}
		receipts = receipts[n:]
	}
	return nil
}

// DeleteQueue implements Queues.
func (q *SDKQueues) DeleteQueue(ctx context.Context, queueURL string) error {
	if _, err := q.Client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(queueURL)}); err != nil {
		return fmt.Errorf("board: delete queue %s: %w", queueURL, err)
	}
	return nil
}

// URL implements Queues.
func (q *SDKQueues) URL(ctx context.Context, arn string) (string, error) {
	account, name, err := splitQueueARN(arn)
	if err != nil {
		return "", err
	}
	out, err := q.Client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name), QueueOwnerAWSAccountId: aws.String(account)})
	if err != nil {
		return "", fmt.Errorf("board: the URL of queue %s: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

// splitQueueARN reads arn:partition:sqs:region:account:name.
func splitQueueARN(arn string) (account, name string, err error) {
	p := strings.Split(arn, ":")
	if len(p) != 6 || p[0] != "arn" || p[2] != "sqs" || p[4] == "" || p[5] == "" {
		return "", "", fmt.Errorf("board: %q is not a queue ARN", arn)
	}
	return p[4], p[5], nil
}

// QueryQueues is SQS in its query protocol (form posts, XML answers), the
// only one the goaws emulator of the local stack understands. goaws keeps
// no tags and ignores a queue policy.
type QueryQueues struct {
	// Endpoint is the emulator's base URL, e.g. http://127.0.0.1:4100.
	Endpoint string
	// HTTP is the client (a 40 s timeout when nil, above the longest poll).
	HTTP *http.Client
}

func (q *QueryQueues) call(ctx context.Context, form url.Values, out any) error {
	client := q.HTTP
	if client == nil {
		client = &http.Client{Timeout: 40 * time.Second}
	}
	err := ops.QueryCall(ctx, client, q.Endpoint, form, out, 16<<20)
	var qe *ops.QueryError
	if errors.As(err, &qe) && qe.Code == nonExistentQueue {
		return fmt.Errorf("%w: %w", ErrQueueGone, err)
	}
	return err
}

// local rewrites a queue URL goaws made (its host is region.127.0.0.1)
// onto the endpoint the board talks to.
func (q *QueryQueues) local(u string) string {
	if pu, err := url.Parse(u); err == nil && pu.Path != "" {
		return strings.TrimRight(q.Endpoint, "/") + pu.Path
	}
	return u
}

// Create implements Queues.
func (q *QueryQueues) Create(ctx context.Context, name string, attrs, _ map[string]string) (string, string, error) {
	form := url.Values{"Action": {"CreateQueue"}, "QueueName": {name}}
	i := 1
	for k, v := range attrs {
		form.Set(fmt.Sprintf("Attribute.%d.Name", i), k)
		form.Set(fmt.Sprintf("Attribute.%d.Value", i), v)
		i++
	}
	var out struct {
		URL string `xml:"CreateQueueResult>QueueUrl"`
	}
	if err := q.call(ctx, form, &out); err != nil {
		return "", "", fmt.Errorf("board: create queue %s: %w", name, err)
	}
	u := q.local(out.URL)
	var attrsOut struct {
		Attrs []struct {
			Name  string `xml:"Name"`
			Value string `xml:"Value"`
		} `xml:"GetQueueAttributesResult>Attribute"`
	}
	if err := q.call(ctx, url.Values{"Action": {"GetQueueAttributes"}, "QueueUrl": {u}, "AttributeName.1": {"QueueArn"}}, &attrsOut); err != nil {
		return u, "", fmt.Errorf("board: the ARN of queue %s: %w", name, err)
	}
	for _, a := range attrsOut.Attrs {
		if a.Name == "QueueArn" {
			return u, a.Value, nil
		}
	}
	return u, "", fmt.Errorf("board: the ARN of queue %s: not in the answer", name)
}

// SetPolicy implements Queues.
func (q *QueryQueues) SetPolicy(ctx context.Context, queueURL, policy string) error {
	form := url.Values{"Action": {"SetQueueAttributes"}, "QueueUrl": {queueURL}, "Attribute.1.Name": {"Policy"}, "Attribute.1.Value": {policy}}
	if err := q.call(ctx, form, nil); err != nil {
		return fmt.Errorf("board: set the policy of %s: %w", queueURL, err)
	}
	return nil
}

// Receive implements Queues.
func (q *QueryQueues) Receive(ctx context.Context, queueURL string, wait time.Duration) ([]QueueMessage, error) {
	var out struct {
		Messages []struct {
			Receipt string `xml:"ReceiptHandle"`
			Body    string `xml:"Body"`
		} `xml:"ReceiveMessageResult>Message"`
	}
	form := url.Values{"Action": {"ReceiveMessage"}, "QueueUrl": {queueURL}, "MaxNumberOfMessages": {"10"}, "WaitTimeSeconds": {strconv.Itoa(int(wait / time.Second))}}
	if err := q.call(ctx, form, &out); err != nil {
		return nil, fmt.Errorf("board: receive from %s: %w", queueURL, err)
	}
	ms := make([]QueueMessage, 0, len(out.Messages))
	for _, m := range out.Messages {
		ms = append(ms, QueueMessage{Body: m.Body, Receipt: m.Receipt})
	}
	return ms, nil
}

// Delete implements Queues.
func (q *QueryQueues) Delete(ctx context.Context, queueURL string, receipts []string) error {
	for _, r := range receipts {
		if err := q.call(ctx, url.Values{"Action": {"DeleteMessage"}, "QueueUrl": {queueURL}, "ReceiptHandle": {r}}, nil); err != nil {
			return fmt.Errorf("board: delete a message from %s: %w", queueURL, err)
		}
	}
	return nil
}

// DeleteQueue implements Queues.
func (q *QueryQueues) DeleteQueue(ctx context.Context, queueURL string) error {
	if err := q.call(ctx, url.Values{"Action": {"DeleteQueue"}, "QueueUrl": {queueURL}}, nil); err != nil {
		return fmt.Errorf("board: delete queue %s: %w", queueURL, err)
	}
	return nil
}

// URL implements Queues.
func (q *QueryQueues) URL(ctx context.Context, arn string) (string, error) {
	account, name, err := splitQueueARN(arn)
	if err != nil {
		return "", err
	}
	var out struct {
		URL string `xml:"GetQueueUrlResult>QueueUrl"`
	}
	if err := q.call(ctx, url.Values{"Action": {"GetQueueUrl"}, "QueueName": {name}, "QueueOwnerAWSAccountId": {account}}, &out); err != nil {
		return "", fmt.Errorf("board: the URL of queue %s: %w", name, err)
	}
	return q.local(out.URL), nil
}

// List lists the URLs of the queues whose names start with prefix (for
// the tests: the board itself never lists the account's queues).
func (q *QueryQueues) List(ctx context.Context, prefix string) ([]string, error) {
	var out struct {
		URLs []string `xml:"ListQueuesResult>QueueUrl"`
	}
	if err := q.call(ctx, url.Values{"Action": {"ListQueues"}, "QueueNamePrefix": {prefix}}, &out); err != nil {
		return nil, fmt.Errorf("board: list queues %s*: %w", prefix, err)
	}
	urls := make([]string, len(out.URLs))
	for i, u := range out.URLs {
		urls[i] = q.local(u)
	}
	return urls, nil
}
