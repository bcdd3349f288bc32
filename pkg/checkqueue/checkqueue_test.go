package checkqueue_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/streamhook/fastpix-receiver/pkg/checkqueue"
)

var check = checkqueue.Check{
	StreamID: "a2ae2143-62a1-4eee-b888-4f1406148481", EventID: "af5db6b1-2e16-484f-09ea-6627f8ff0853",
	OccurredAt:  time.Date(2024, 4, 2, 12, 4, 52, 722812836, time.UTC),
	WorkspaceID: "ws-1", WorkspaceName: "Development", Test: true,
}

func TestDelaySeconds(t *testing.T) {
	tests := map[time.Duration]int32{
		-time.Second:            0,
		0:                       0,
		time.Nanosecond:         1,
		time.Second:             1,
		1500 * time.Millisecond: 2,
		29 * time.Second:        29,
		900 * time.Second:       900,
		901 * time.Second:       900,
		time.Hour:               900,
	}
	for d, want := range tests {
		if got := checkqueue.DelaySeconds(d); got != want {
			t.Errorf("DelaySeconds(%s) = %d, want %d", d, got, want)
		}
	}
}

func TestEncodeDecode(t *testing.T) {
	body, err := check.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := checkqueue.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	if !got.OccurredAt.Equal(check.OccurredAt) {
		t.Errorf("occurredAt %s, want %s", got.OccurredAt, check.OccurredAt)
	}
	got.OccurredAt = check.OccurredAt
	if got != check {
		t.Errorf("decoded %+v, want %+v", got, check)
	}
	for _, bad := range []string{"", "{}", "[]", "not json", `{"streamId":"s"}`, `{"eventId":"e"}`, `{"streamId":1,"eventId":"e"}`,
		`{"streamId":"s","eventId":"e","occurredAt":"yesterday"}`} {
		if _, err := checkqueue.Decode(bad); !errors.Is(err, checkqueue.ErrBadMessage) {
			t.Errorf("Decode(%q) = %v, want ErrBadMessage", bad, err)
		}
	}
}

type fakeSQS struct {
	in  []*sqs.SendMessageInput
	err error
}

func (f *fakeSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.in = append(f.in, in)
	if f.err != nil {
		return nil, f.err
	}
	return &sqs.SendMessageOutput{MessageId: aws.String("m-1")}, nil
}

func TestSQSEnqueue(t *testing.T) {
	const url = "https://sqs.us-east-1.amazonaws.com/123456789012/HeldDisconnects"
	tests := []struct {
		name    string
		delay   time.Duration
		err     error
		want    int32
		wantErr bool
	}{
		{name: "rest of the grace, rounded up", delay: 29*time.Second + time.Millisecond, want: 30},
		{name: "beyond SQS's limit", delay: 20 * time.Minute, want: 900},
		{name: "SQS fails", delay: time.Second, err: errors.New("throttled"), want: 1, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeSQS{err: tc.err}
			err := (&checkqueue.SQS{Client: f, URL: url}).Enqueue(context.Background(), check, tc.delay)
			if tc.wantErr != (err != nil) || tc.wantErr && !errors.Is(err, checkqueue.ErrEnqueue) {
				t.Fatalf("Enqueue = %v", err)
			}
			if len(f.in) != 1 {
				t.Fatalf("%d SendMessage, want 1", len(f.in))
			}
			in := f.in[0]
			if aws.ToString(in.QueueUrl) != url || in.DelaySeconds != tc.want {
				t.Errorf("queue %s delay %d, want %s %d", aws.ToString(in.QueueUrl), in.DelaySeconds, url, tc.want)
			}
			if c, err := checkqueue.Decode(aws.ToString(in.MessageBody)); err != nil || c.EventID != check.EventID || c.StreamID != check.StreamID {
				t.Errorf("body %s: %+v, %v", aws.ToString(in.MessageBody), c, err)
			}
		})
	}
}

type fakeChecker struct {
	fail    map[string]bool // event ids whose check fails
	checked []string
}

func (f *fakeChecker) Check(_ context.Context, c checkqueue.Check) error {
	f.checked = append(f.checked, c.EventID)
	if f.fail[c.EventID] {
		return errors.New("state table unavailable")
	}
	return nil
}

// One failing check and one unreadable message hold back nothing: the
// failing one is reported by its message id (SQS delivers it again), the
// unreadable one is logged and dropped, the others are done.
func TestHandler(t *testing.T) {
	msg := func(id, eventID string) events.SQSMessage {
		c := check
		c.EventID = eventID
		body, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return events.SQSMessage{MessageId: id, Body: body, Attributes: map[string]string{"ApproximateReceiveCount": "1"}}
	}
	ev := events.SQSEvent{Records: []events.SQSMessage{
		msg("m1", "d1"),
		msg("m2", "d2"),
		{MessageId: "m3", Body: "garbage"},
		msg("m4", "d4"),
		msg("m5", "d5"),
	}}
	f := &fakeChecker{fail: map[string]bool{"d2": true, "d5": true}}
	var logs bytes.Buffer
	h := &checkqueue.Handler{Checker: f, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	resp, err := h.Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	if strings.Join(failed, ",") != "m2,m5" {
		t.Errorf("failures = %v, want m2,m5", failed)
	}
	if strings.Join(f.checked, ",") != "d1,d2,d4,d5" {
		t.Errorf("checked = %v, want d1,d2,d4,d5", f.checked)
	}
	for _, want := range []string{`"msg":"check message dropped","messageId":"m3"`, `"msg":"check failed; it will be delivered again","messageId":"m2"`,
		`"messages":5,"failed":2,"unreadable":1`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs.String())
		}
	}
	// An empty batch answers an empty list of failures.
	resp, _ = h.Handle(context.Background(), events.SQSEvent{})
	if resp.BatchItemFailures == nil || len(resp.BatchItemFailures) != 0 {
		t.Errorf("empty batch: %+v", resp)
	}
}
