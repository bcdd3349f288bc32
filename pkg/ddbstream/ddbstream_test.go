package ddbstream_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/streamhook/fastpix-receiver/pkg/ddbstream"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
)

// fakeProcessor records each stream it is asked to bring up to date, with
// the events that rang, fails the streams in fail, and counts how many run
// at once.
type fakeProcessor struct {
	fail    map[string]error
	mu      sync.Mutex
	seen    map[string][]string
	calls   int
	running int
	most    int
}

func (f *fakeProcessor) ApplyStream(_ context.Context, key string, ids []string) ([]notify.EventResult, error) {
	f.mu.Lock()
	if f.seen == nil {
		f.seen = map[string][]string{}
	}
	f.seen[key] = append(f.seen[key], ids...)
	f.calls++
	f.running++
	f.most = max(f.most, f.running)
	f.mu.Unlock()
	time.Sleep(time.Millisecond)
	f.mu.Lock()
	f.running--
	f.mu.Unlock()
	if err := f.fail[key]; err != nil {
		return nil, err
	}
	out := make([]notify.EventResult, len(ids))
	for i, id := range ids {
		out[i] = notify.EventResult{EventID: id, Outcome: notify.Recorded}
	}
	return out, nil
}

// insert is a stream record of a KEYS_ONLY stream: the event's keys.
func insert(seq, stream, eventID string) events.DynamoDBEventRecord {
	return events.DynamoDBEventRecord{
		EventName: "INSERT", EventSource: "aws:dynamodb",
		Change: events.DynamoDBStreamRecord{SequenceNumber: seq, StreamViewType: "KEYS_ONLY", Keys: map[string]events.DynamoDBAttributeValue{
			eventstore.AttrStreamID: events.NewStringAttribute(stream),
			eventstore.KeyEventID:   events.NewStringAttribute(eventID),
		}},
	}
}

func withName(r events.DynamoDBEventRecord, name string) events.DynamoDBEventRecord {
	r.EventName = name
	return r
}

func unreadable(seq string) events.DynamoDBEventRecord {
	r := insert(seq, "s", "x")
	delete(r.Change.Keys, eventstore.KeyEventID)
	return r
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func failures(resp events.DynamoDBEventResponse) []string {
	var out []string
	for _, f := range resp.BatchItemFailures {
		out = append(out, f.ItemIdentifier)
	}
	return out
}

// Each stream of a batch is brought up to date once, with every event that
// rang for it; what is not an insert, or names no event, is passed over.
func TestHandleOncePerStream(t *testing.T) {
	p := &fakeProcessor{}
	h := &ddbstream.Handler{Processor: p, Logger: quiet()}
	resp, err := h.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		insert("1", "a", "a1"), insert("2", "b", "b1"), insert("3", "a", "a2"), withName(insert("4", "a", "a3"), "REMOVE"),
		unreadable("5"), insert("6", "nostream/obj", "n1"), insert("7", "b", "b2"),
	}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %v, failures %v", err, failures(resp))
	}
	want := map[string][]string{"a": {"a1", "a2"}, "b": {"b1", "b2"}, "nostream/obj": {"n1"}}
	if !reflect.DeepEqual(p.seen, want) || p.calls != 3 {
		t.Errorf("brought up to date %v in %d calls, want %v in 3", p.seen, p.calls, want)
	}
}

// A stream that fails is reported from its first record, with every later
// one, as Lambda's batch contract asks; the others are done.
func TestHandleBatchFailures(t *testing.T) {
	down := fmt.Errorf("%w: SNS is down", notify.ErrPublish)
	tests := []struct {
		name string
		fail map[string]error
		want []string
	}{
		{"none", nil, nil},
		{"the first stream", map[string]error{"a": down}, []string{"1", "2", "3", "4"}},
		{"a stream whose first record is later", map[string]error{"c": down}, []string{"3", "4"}},
		{"two streams: from the earliest", map[string]error{"b": down, "c": down}, []string{"2", "3", "4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &fakeProcessor{fail: tc.fail}
			h := &ddbstream.Handler{Processor: p, Logger: quiet()}
			resp, err := h.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
				insert("1", "a", "a1"), insert("2", "b", "b1"), insert("3", "c", "c1"), insert("4", "a", "a2"),
			}})
			if err != nil {
				t.Fatal(err)
			}
			if got := failures(resp); !slices.Equal(got, tc.want) {
				t.Errorf("failures %v, want %v", got, tc.want)
			}
		})
	}
}

// Streams are brought up to date concurrently, at most MaxConcurrency at
// once.
func TestHandleBoundsConcurrency(t *testing.T) {
	p := &fakeProcessor{}
	h := &ddbstream.Handler{Processor: p, Logger: quiet(), MaxConcurrency: 3}
	var recs []events.DynamoDBEventRecord
	for i := range 40 {
		recs = append(recs, insert(fmt.Sprint(i), fmt.Sprintf("s%d", i), fmt.Sprintf("e%d", i)))
	}
	if _, err := h.Handle(context.Background(), events.DynamoDBEvent{Records: recs}); err != nil {
		t.Fatal(err)
	}
	if p.most > 3 || p.most < 2 || p.calls != 40 {
		t.Errorf("at most %d at once over %d calls, want 2 or 3 over 40", p.most, p.calls)
	}
}

// counter counts what the handler observes.
type counter struct {
	mu      sync.Mutex
	records map[notify.Outcome]int
	batches [][2]int
}

func (c *counter) Skipped(o notify.Outcome) { c.count(o) }

func (c *counter) StreamFailed(error) { c.count(notify.Failed) }

func (c *counter) count(o notify.Outcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.records == nil {
		c.records = map[notify.Outcome]int{}
	}
	c.records[o]++
}

func (c *counter) Batch(records, retried int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches = append(c.batches, [2]int{records, retried})
}

func TestHandleObserver(t *testing.T) {
	c := &counter{}
	h := &ddbstream.Handler{Processor: &fakeProcessor{fail: map[string]error{"b": errors.New("state down")}}, Logger: quiet(), Observer: c}
	if _, err := h.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		insert("1", "a", "a1"), withName(insert("2", "a", "a2"), "REMOVE"), unreadable("3"), insert("4", "b", "b1"),
	}}); err != nil {
		t.Fatal(err)
	}
	want := map[notify.Outcome]int{notify.Ignored: 1, notify.Unreadable: 1, notify.Failed: 1}
	if !reflect.DeepEqual(c.records, want) || !slices.Equal(c.batches, [][2]int{{4, 1}}) {
		t.Errorf("observed %v and batches %v, want %v and [[4 1]]", c.records, c.batches, want)
	}
}

func TestFromStreamsRecord(t *testing.T) {
	at := time.Date(2024, 4, 2, 11, 17, 52, 0, time.UTC)
	in := streamstypes.Record{
		AwsRegion: aws.String("us-east-1"), EventID: aws.String("ev"), EventName: streamstypes.OperationTypeRemove,
		EventSource: aws.String("aws:dynamodb"), EventVersion: aws.String("1.1"),
		UserIdentity: &streamstypes.Identity{Type: aws.String("Service"), PrincipalId: aws.String("dynamodb.amazonaws.com")},
		Dynamodb: &streamstypes.StreamRecord{
			ApproximateCreationDateTime: &at,
			Keys:                        map[string]streamstypes.AttributeValue{"k": &streamstypes.AttributeValueMemberS{Value: "v"}},
			OldImage: map[string]streamstypes.AttributeValue{
				"s":    &streamstypes.AttributeValueMemberS{Value: "v"},
				"n":    &streamstypes.AttributeValueMemberN{Value: "12.5"},
				"b":    &streamstypes.AttributeValueMemberB{Value: []byte{1, 2}},
				"t":    &streamstypes.AttributeValueMemberBOOL{Value: true},
				"null": &streamstypes.AttributeValueMemberNULL{Value: true},
				"ss":   &streamstypes.AttributeValueMemberSS{Value: []string{"a", "b"}},
				"ns":   &streamstypes.AttributeValueMemberNS{Value: []string{"1", "2"}},
				"bs":   &streamstypes.AttributeValueMemberBS{Value: [][]byte{{3}}},
				"l":    &streamstypes.AttributeValueMemberL{Value: []streamstypes.AttributeValue{&streamstypes.AttributeValueMemberS{Value: "x"}}},
				"m":    &streamstypes.AttributeValueMemberM{Value: map[string]streamstypes.AttributeValue{"in": &streamstypes.AttributeValueMemberN{Value: "1"}}},
			},
			SequenceNumber: aws.String("000123"), SizeBytes: aws.Int64(77), StreamViewType: streamstypes.StreamViewTypeNewAndOldImages,
		},
	}
	got := ddbstream.FromStreamsRecord(in)
	want := events.DynamoDBEventRecord{
		AWSRegion: "us-east-1", EventID: "ev", EventName: "REMOVE", EventSource: "aws:dynamodb", EventVersion: "1.1",
		UserIdentity: &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"},
		Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: at},
			Keys:                        map[string]events.DynamoDBAttributeValue{"k": events.NewStringAttribute("v")},
			OldImage: map[string]events.DynamoDBAttributeValue{
				"s": events.NewStringAttribute("v"), "n": events.NewNumberAttribute("12.5"),
				"b": events.NewBinaryAttribute([]byte{1, 2}), "t": events.NewBooleanAttribute(true),
				"null": events.NewNullAttribute(), "ss": events.NewStringSetAttribute([]string{"a", "b"}),
				"ns": events.NewNumberSetAttribute([]string{"1", "2"}), "bs": events.NewBinarySetAttribute([][]byte{{3}}),
				"l": events.NewListAttribute([]events.DynamoDBAttributeValue{events.NewStringAttribute("x")}),
				"m": events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"in": events.NewNumberAttribute("1")}),
			},
			SequenceNumber: "000123", SizeBytes: 77, StreamViewType: "NEW_AND_OLD_IMAGES",
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FromStreamsRecord =\n%+v\nwant\n%+v", got, want)
	}
	ev := ddbstream.FromStreamsRecords("arn:aws:dynamodb:eu-west-1:1:table/T/stream/2024", []streamstypes.Record{{EventName: streamstypes.OperationTypeInsert}})
	if len(ev.Records) != 1 || ev.Records[0].EventSourceArn != "arn:aws:dynamodb:eu-west-1:1:table/T/stream/2024" ||
		ev.Records[0].AWSRegion != "eu-west-1" || ev.Records[0].EventSource != "aws:dynamodb" || ev.Records[0].EventName != "INSERT" {
		t.Errorf("FromStreamsRecords = %+v", ev.Records)
	}
}
