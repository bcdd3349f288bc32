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

// fakeProcessor fails the events whose ids are in fail, and records the
// order it saw the others in.
type fakeProcessor struct {
	fail map[string]error
	mu   sync.Mutex
	seen []string
}

func (f *fakeProcessor) Process(_ context.Context, r eventstore.Record) (notify.Result, error) {
	f.mu.Lock()
	f.seen = append(f.seen, r.EventID)
	f.mu.Unlock()
	if err := f.fail[r.EventID]; err != nil {
		return notify.Result{}, err
	}
	return notify.Result{Outcome: notify.Published}, nil
}

func insert(seq, eventID string) events.DynamoDBEventRecord {
	image := map[string]events.DynamoDBAttributeValue{
		eventstore.KeyEventID: events.NewStringAttribute(eventID),
		eventstore.AttrType:   events.NewStringAttribute("video.live_stream.active"),
	}
	return events.DynamoDBEventRecord{
		EventName: "INSERT",
		Change:    events.DynamoDBStreamRecord{SequenceNumber: seq, NewImage: image, StreamViewType: "NEW_IMAGE"},
	}
}

func withName(r events.DynamoDBEventRecord, name string) events.DynamoDBEventRecord {
	r.EventName = name
	return r
}

func unreadable(seq string) events.DynamoDBEventRecord {
	r := insert(seq, "x")
	delete(r.Change.NewImage, eventstore.KeyEventID)
	return r
}

func TestHandleBatchFailures(t *testing.T) {
	publishErr := errors.New("publish: connection refused")
	tests := []struct {
		name     string
		records  []events.DynamoDBEventRecord
		fail     map[string]error
		wantSeen []string
		wantFail []string
	}{
		{
			name:     "all succeed",
			records:  []events.DynamoDBEventRecord{insert("1", "a"), insert("2", "b"), insert("3", "c")},
			wantSeen: []string{"a", "b", "c"},
		},
		{
			name:     "middle fails: it and every later record are reported",
			records:  []events.DynamoDBEventRecord{insert("1", "a"), insert("2", "b"), insert("3", "c"), insert("4", "d")},
			fail:     map[string]error{"b": publishErr},
			wantSeen: []string{"a", "b"},
			wantFail: []string{"2", "3", "4"},
		},
		{
			name:     "first fails",
			records:  []events.DynamoDBEventRecord{insert("1", "a"), insert("2", "b")},
			fail:     map[string]error{"a": publishErr, "b": publishErr},
			wantSeen: []string{"a"},
			wantFail: []string{"1", "2"},
		},
		{
			name:     "last fails",
			records:  []events.DynamoDBEventRecord{insert("1", "a"), insert("2", "b")},
			fail:     map[string]error{"b": publishErr},
			wantSeen: []string{"a", "b"},
			wantFail: []string{"2"},
		},
		{
			name:     "unreadable records are skipped, not retried",
			records:  []events.DynamoDBEventRecord{unreadable("1"), insert("2", "b"), unreadable("3")},
			wantSeen: []string{"b"},
		},
		{
			name: "only INSERTs are processed",
			records: []events.DynamoDBEventRecord{
				withName(insert("1", "a"), "MODIFY"), insert("2", "b"), withName(insert("3", "c"), "REMOVE"),
			},
			wantSeen: []string{"b"},
		},
		{
			name: "records after a failure are reported whatever they are",
			records: []events.DynamoDBEventRecord{
				insert("1", "a"), unreadable("2"), withName(insert("3", "c"), "REMOVE"),
			},
			fail:     map[string]error{"a": publishErr},
			wantSeen: []string{"a"},
			wantFail: []string{"1", "2", "3"},
		},
		{
			name: "a record no retry can process is skipped; the records after it go on",
			records: []events.DynamoDBEventRecord{
				insert("1", "a"), insert("2", "poison"), insert("3", "c"), insert("4", "poison2"), insert("5", "e"),
			},
			fail: map[string]error{
				"poison":  fmt.Errorf("%w: event poison: %w", notify.ErrUnprocessable, errors.New("ValidationException: item size")),
				"poison2": fmt.Errorf("%w: event poison2", notify.ErrUnprocessable),
			},
			wantSeen: []string{"a", "poison", "c", "poison2", "e"},
		},
		{name: "empty batch"},
	}
	for _, tc := range tests {
		// One at a time the batch is processed in order and nothing after
		// the failure is started; with concurrency (these records name no
		// stream, so each is on its own) the same records are reported, and
		// every record before the failure is done.
		for _, limit := range []int{1, 0} {
			t.Run(fmt.Sprintf("%s/concurrency=%d", tc.name, limit), func(t *testing.T) {
				p := &fakeProcessor{fail: tc.fail}
				h := &ddbstream.Handler{Processor: p, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), MaxConcurrency: limit}
				resp, err := h.Handle(context.Background(), events.DynamoDBEvent{Records: tc.records})
				if err != nil {
					t.Fatalf("Handle returned an error (the whole batch would be retried): %v", err)
				}
				var failed []string
				for _, f := range resp.BatchItemFailures {
					failed = append(failed, f.ItemIdentifier)
				}
				if !reflect.DeepEqual(failed, tc.wantFail) {
					t.Errorf("failures = %v, want %v", failed, tc.wantFail)
				}
				if limit == 1 && !reflect.DeepEqual(p.seen, tc.wantSeen) {
					t.Errorf("processed %v, want %v", p.seen, tc.wantSeen)
				}
				for _, id := range tc.wantSeen {
					if !slices.Contains(p.seen, id) {
						t.Errorf("processed %v: %s is missing", p.seen, id)
					}
				}
			})
		}
	}
}

func TestRecordOf(t *testing.T) {
	stored := eventstore.Record{
		EventID: "e-1", Type: "video.live_stream.simulcast_target.broadcasting", StreamID: "s-1", SimulcastID: "t-1",
		ObjectType: "live", ObjectID: "s-1", WorkspaceID: "w-1", WorkspaceName: "Dev",
		OccurredAt: "2024-04-02T11:17:52.000000000Z", ReceivedAt: "2024-04-02T11:17:53.000000000Z",
		Test: true, Payload: `{"id":"e-1"}`, ExpiresAt: 1712056673,
	}
	// The item as DynamoDB stores it, through the streams API types and the
	// conversion Lambda's records go through.
	sr := streamstypes.Record{
		EventName: streamstypes.OperationTypeInsert,
		Dynamodb:  &streamstypes.StreamRecord{SequenceNumber: aws.String("100"), NewImage: streamsImage(stored)},
	}
	got, err := ddbstream.RecordOf(ddbstream.FromStreamsRecord(sr))
	if err != nil {
		t.Fatal(err)
	}
	if got != stored {
		t.Errorf("record = %+v, want %+v", got, stored)
	}
	if _, err := ddbstream.RecordOf(events.DynamoDBEventRecord{EventName: "INSERT"}); !errors.Is(err, ddbstream.ErrBadRecord) {
		t.Errorf("record without image: %v, want ErrBadRecord", err)
	}
}

// streamsImage writes r's item with the streams API's own types.
func streamsImage(r eventstore.Record) map[string]streamstypes.AttributeValue {
	out := map[string]streamstypes.AttributeValue{}
	for k, v := range map[string]string{
		eventstore.KeyEventID: r.EventID, eventstore.AttrType: r.Type, eventstore.AttrStreamID: r.StreamID,
		eventstore.AttrSimulcastID: r.SimulcastID, eventstore.AttrObjectType: r.ObjectType, eventstore.AttrObjectID: r.ObjectID,
		eventstore.AttrWorkspaceID: r.WorkspaceID, eventstore.AttrWorkspaceName: r.WorkspaceName,
		eventstore.AttrOccurredAt: r.OccurredAt, eventstore.AttrReceivedAt: r.ReceivedAt, eventstore.AttrPayload: r.Payload,
	} {
		out[k] = &streamstypes.AttributeValueMemberS{Value: v}
	}
	out[eventstore.AttrTest] = &streamstypes.AttributeValueMemberBOOL{Value: r.Test}
	out[eventstore.AttrExpiresAt] = &streamstypes.AttributeValueMemberN{Value: "1712056673"}
	return out
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
