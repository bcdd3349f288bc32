package ops

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Message is one message of a queue.
type Message struct {
	ID      string
	Body    string
	Receipt string // what Delete needs
}

// Queue is the notifier's dead-letter queue as redrive uses it: receive a
// few messages (each then hidden from other readers for the queue's
// visibility timeout), and delete one once it is dealt with. A message not
// deleted comes back after the timeout.
type Queue interface {
	Receive(ctx context.Context, max int) ([]Message, error)
	Delete(ctx context.Context, m Message) error
}

var (
	_ Queue = (*SQSQueue)(nil)
	_ Queue = (*QueryQueue)(nil)
)

// SQSAPI is the part of the SQS client SQSQueue uses.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

// SQSQueue is a queue in Amazon SQS, through the SDK (the AWS JSON
// protocol).
type SQSQueue struct {
	Client SQSAPI
	URL    string
}

// Receive implements Queue (no long polling: an empty answer means the
// queue has nothing visible now).
func (q *SQSQueue) Receive(ctx context.Context, max int) ([]Message, error) {
	out, err := q.Client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(q.URL), MaxNumberOfMessages: int32(max), WaitTimeSeconds: 0,
	})
	if err != nil {
		return nil, fmt.Errorf("ops: receive from %s: %w", q.URL, err)
	}
	ms := make([]Message, 0, len(out.Messages))
	for _, m := range out.Messages {
		ms = append(ms, Message{ID: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), Receipt: aws.ToString(m.ReceiptHandle)})
	}
	return ms, nil
}

// Delete implements Queue.
func (q *SQSQueue) Delete(ctx context.Context, m Message) error {
	if _, err := q.Client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.URL), ReceiptHandle: aws.String(m.Receipt)}); err != nil {
		return fmt.Errorf("ops: delete message %s from %s: %w", m.ID, q.URL, err)
	}
	return nil
}

// QueryQueue is a queue spoken to in SQS's older query protocol (form
// posts, XML answers): the only one the goaws emulator of the local stack
// understands, while the SDK's SQS client speaks only the JSON protocol
// now. It is for the local stack and its tests; SQSQueue is for AWS.
type QueryQueue struct {
	// Endpoint is the emulator's base URL, e.g. http://127.0.0.1:4100.
	Endpoint string
	// URL is the queue's URL (goaws finds the queue by its last part).
	URL string
	// HTTP is the client (http.DefaultClient when nil).
	HTTP *http.Client
}

// QueryError is an error answer of the query protocol.
type QueryError struct {
	Status  int
	Code    string
	Message string
	// Action is the action refused ("" when not known).
	Action string
}

func (e *QueryError) Error() string {
	if e.Action != "" {
		return fmt.Sprintf("sqs query protocol: %s: HTTP %d %s: %s", e.Action, e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("sqs query protocol: HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

func (q *QueryQueue) call(ctx context.Context, form url.Values, out any) error {
	client := q.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return QueryCall(ctx, client, q.Endpoint, form, out, 4<<20)
}

// QueryCall posts one action of SQS's query protocol (a form post, an XML
// answer) to endpoint and reads the answer, at most maxBody bytes, into out
// (nil: not read). An answer other than 2xx is a *QueryError. client nil:
// http.DefaultClient.
func QueryCall(ctx context.Context, client *http.Client, endpoint string, form url.Values, out any, maxBody int64) error {
	form.Set("Version", "2012-11-05")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(endpoint, "/")+"/", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Code    string `xml:"Error>Code"`
			Message string `xml:"Error>Message"`
		}
		_ = xml.Unmarshal(body, &e)
		return &QueryError{Status: resp.StatusCode, Code: e.Code, Message: e.Message, Action: form.Get("Action")}
	}
	if out == nil {
		return nil
	}
	if err := xml.Unmarshal(body, out); err != nil {
		return fmt.Errorf("sqs query protocol: unreadable %s answer: %w", form.Get("Action"), err)
	}
	return nil
}

// CreateQueue creates the queue name (or finds it) and returns its URL.
func (q *QueryQueue) CreateQueue(ctx context.Context, name string) (string, error) {
	var out struct {
		URL string `xml:"CreateQueueResult>QueueUrl"`
	}
	if err := q.call(ctx, url.Values{"Action": {"CreateQueue"}, "QueueName": {name}}, &out); err != nil {
		return "", fmt.Errorf("ops: create queue %s: %w", name, err)
	}
	return out.URL, nil
}

// Send puts a message on the queue (what Lambda does with a failed batch;
// the tests and the local stack use it).
func (q *QueryQueue) Send(ctx context.Context, body string) error {
	_, err := q.SendMessage(ctx, &sqs.SendMessageInput{MessageBody: aws.String(body)})
	return err
}

// SendMessage is the SQS client's SendMessage over the query protocol
// (body and DelaySeconds; in.QueueUrl, when set, over q.URL), so code
// written against the SDK's client, such as the held disconnects' queue
// (pkg/checkqueue), sends to goaws unchanged. goaws honours DelaySeconds.
func (q *QueryQueue) SendMessage(ctx context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	u := q.URL
	if in.QueueUrl != nil {
		u = aws.ToString(in.QueueUrl)
	}
	form := url.Values{"Action": {"SendMessage"}, "QueueUrl": {u}, "MessageBody": {aws.ToString(in.MessageBody)}}
	if in.DelaySeconds > 0 {
		form.Set("DelaySeconds", strconv.Itoa(int(in.DelaySeconds)))
	}
	var out struct {
		ID string `xml:"SendMessageResult>MessageId"`
	}
	if err := q.call(ctx, form, &out); err != nil {
		return nil, fmt.Errorf("ops: send to %s: %w", u, err)
	}
	return &sqs.SendMessageOutput{MessageId: aws.String(out.ID)}, nil
}

// Receive implements Queue.
func (q *QueryQueue) Receive(ctx context.Context, max int) ([]Message, error) {
	var out struct {
		Messages []struct {
			ID      string `xml:"MessageId"`
			Receipt string `xml:"ReceiptHandle"`
			Body    string `xml:"Body"`
		} `xml:"ReceiveMessageResult>Message"`
	}
	form := url.Values{"Action": {"ReceiveMessage"}, "QueueUrl": {q.URL}, "MaxNumberOfMessages": {strconv.Itoa(max)}, "WaitTimeSeconds": {"0"}}
	if err := q.call(ctx, form, &out); err != nil {
		return nil, fmt.Errorf("ops: receive from %s: %w", q.URL, err)
	}
	ms := make([]Message, 0, len(out.Messages))
	for _, m := range out.Messages {
		ms = append(ms, Message{ID: m.ID, Body: m.Body, Receipt: m.Receipt})
	}
	return ms, nil
}

// Delete implements Queue.
func (q *QueryQueue) Delete(ctx context.Context, m Message) error {
	if err := q.call(ctx, url.Values{"Action": {"DeleteMessage"}, "QueueUrl": {q.URL}, "ReceiptHandle": {m.Receipt}}, nil); err != nil {
		return fmt.Errorf("ops: delete message %s from %s: %w", m.ID, q.URL, err)
	}
	return nil
}
