// Package ops is the operator's toolbox behind `fastpixctl`: re-sending
// alerts from stored events (replay), re-processing what the notifier gave
// up on (redrive), rotating the signing secret without a failed delivery,
// and reading a stream's state and history (inspect).
//
// Every command works on the same stores and the same notifier code as the
// functions (pkg/notify, pkg/streamstate, pkg/eventstore), so what a
// command does is what the notifier would have done.
package ops

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
)

// ErrBadRange: the query's range is empty or inverted.
var ErrBadRange = errors.New("ops: bad time range")

// EventsAPI is the part of the DynamoDB client the event source reads with.
type EventsAPI interface {
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// EventQuery selects stored events.
type EventQuery struct {
	// StreamID reads one stream through the byStream index; "" scans the
	// whole table (every stream, and events of no stream), which reads every
	// item once: fine for an outage window, costly on a large table.
	StreamID string
	// From and To bound the time (inclusive); zero means open.
	From, To time.Time
	// ByReceivedAt bounds receivedAt instead of occurredAt (scans only):
	// what the redrive fallback uses, since the stream records' times are
	// arrival times.
	ByReceivedAt bool
	// Limit is the most events returned (1000 when 0); Events reports
	// whether more matched.
	Limit int
}

// DefaultEventLimit bounds one replay unless the operator says otherwise.
const DefaultEventLimit = 1000

// EventSource reads stored events in occurredAt order.
type EventSource struct {
	Client EventsAPI
	Table  string
}

// bounds returns the range as text in eventstore.TimeLayout, whose text
// order is time order.
func (q EventQuery) bounds() (string, string, error) {
	from, to := "0000", "9999"
	if !q.From.IsZero() {
		from = eventstore.FormatTime(q.From)
	}
	if !q.To.IsZero() {
		to = eventstore.FormatTime(q.To)
	}
	if from > to {
		return "", "", fmt.Errorf("%w: from %s is after to %s", ErrBadRange, from, to)
	}
	return from, to, nil
}

// Events returns the events q selects, oldest first (ties by event id), at
// most q.Limit of them, and whether more matched.
func (s *EventSource) Events(ctx context.Context, q EventQuery) ([]eventstore.Record, bool, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultEventLimit
	}
	from, to, err := q.bounds()
	if err != nil {
		return nil, false, err
	}
	attr := eventstore.AttrOccurredAt
	if q.ByReceivedAt {
		attr = eventstore.AttrReceivedAt
	}
	values := map[string]types.AttributeValue{
		":from": &types.AttributeValueMemberS{Value: from},
		":to":   &types.AttributeValueMemberS{Value: to},
	}
	var recs []eventstore.Record
	add := func(items []map[string]types.AttributeValue) error {
		for _, item := range items {
			r, err := eventstore.RecordFromItem(item)
			if err != nil {
				return fmt.Errorf("ops: read %s: %w", s.Table, err)
			}
			recs = append(recs, r)
		}
		return nil
	}
	if q.StreamID != "" && !q.ByReceivedAt {
		// The index is in occurredAt order: read one more than the limit to
		// know whether more match.
		in := &dynamodb.QueryInput{
			TableName:                aws.String(s.Table),
			IndexName:                aws.String(eventstore.IndexByStream),
			KeyConditionExpression:   aws.String("#s = :s AND #t BETWEEN :from AND :to"),
			ExpressionAttributeNames: map[string]string{"#s": eventstore.AttrStreamID, "#t": attr},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":s": &types.AttributeValueMemberS{Value: q.StreamID}, ":from": values[":from"], ":to": values[":to"],
			},
			ScanIndexForward: aws.Bool(true),
		}
		for len(recs) <= limit {
			out, err := s.Client.Query(ctx, in)
			if err != nil {
				return nil, false, fmt.Errorf("ops: query stream %s in %s: %w", q.StreamID, s.Table, err)
			}
			if err := add(out.Items); err != nil {
				return nil, false, err
			}
			if len(out.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	} else {
		// A scan is in no order: read every match, then sort.
		in := &dynamodb.ScanInput{
			TableName:                 aws.String(s.Table),
			FilterExpression:          aws.String("#t BETWEEN :from AND :to"),
			ExpressionAttributeNames:  map[string]string{"#t": attr},
			ExpressionAttributeValues: values,
		}
		if q.StreamID != "" {
			*in.FilterExpression += " AND #s = :s"
			in.ExpressionAttributeNames["#s"] = eventstore.AttrStreamID
			in.ExpressionAttributeValues[":s"] = &types.AttributeValueMemberS{Value: q.StreamID}
		}
		for {
			out, err := s.Client.Scan(ctx, in)
			if err != nil {
				return nil, false, fmt.Errorf("ops: scan %s: %w", s.Table, err)
			}
			if err := add(out.Items); err != nil {
				return nil, false, err
			}
			if len(out.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	sort.SliceStable(recs, func(i, j int) bool {
		if recs[i].OccurredAt != recs[j].OccurredAt {
			return recs[i].OccurredAt < recs[j].OccurredAt
		}
		return recs[i].EventID < recs[j].EventID
	})
	if len(recs) > limit {
		return recs[:limit], true, nil
	}
	return recs, false, nil
}
