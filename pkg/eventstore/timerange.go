package eventstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErrBadRange: the range query's time range is empty or inverted.
var ErrBadRange = errors.New("eventstore: bad time range")

// DefaultRangeLimit bounds one range query unless the caller says
// otherwise.
const DefaultRangeLimit = 1000

// RangeAPI is the part of the DynamoDB client a range query reads with.
type RangeAPI interface {
	QueryAPI
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// RangeQuery selects stored events by time, for the operator's tools
// (replay, redrive), which read everything in a window at once rather than
// page by page as StreamQuery does.
type RangeQuery struct {
	// StreamID reads one stream through the byTime index; "" scans the
	// whole table (every stream, and events of no stream), which reads every
	// item once: fine for an outage window, costly on a large table.
	StreamID string
	// From and To bound the time (inclusive); zero means open.
	From, To time.Time
	// ByReceivedAt bounds receivedAt instead of occurredAt (scans only):
	// what the redrive fallback uses, since the stream records' times are
	// arrival times.
	ByReceivedAt bool
	// Limit is the most events returned (DefaultRangeLimit when 0); Events
	// reports whether more matched.
	Limit int
}

// RangeReader reads stored events by time range, in occurredAt order.
type RangeReader struct {
	Client RangeAPI
	Table  string
}

// bounds returns the range as text in TimeLayout, whose text order is time
// order.
func (q RangeQuery) bounds() (string, string, error) {
	from, to := "0000", "9999"
	if !q.From.IsZero() {
		from = FormatTime(q.From)
	}
	if !q.To.IsZero() {
		to = FormatTime(q.To)
	}
	if from > to {
		return "", "", fmt.Errorf("%w: from %s is after to %s", ErrBadRange, from, to)
	}
	return from, to, nil
}

// Events returns the events q selects, oldest first (ties by event id), at
// most q.Limit of them, and whether more matched.
func (r *RangeReader) Events(ctx context.Context, q RangeQuery) ([]Record, bool, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultRangeLimit
	}
	from, to, err := q.bounds()
	if err != nil {
		return nil, false, err
	}
	attr := AttrOccurredAt
	if q.ByReceivedAt {
		attr = AttrReceivedAt
	}
	values := map[string]types.AttributeValue{
		":from": &types.AttributeValueMemberS{Value: from},
		":to":   &types.AttributeValueMemberS{Value: to},
	}
	var recs []Record
	add := func(items []map[string]types.AttributeValue) error {
		for _, item := range items {
			rec, err := RecordFromItem(item)
			if err != nil {
				return fmt.Errorf("eventstore: read %s: %w", r.Table, err)
			}
			recs = append(recs, rec)
		}
		return nil
	}
	if q.StreamID != "" && !q.ByReceivedAt {
		// The index is in log order, which starts with the time an event is
		// ordered by (its occurredAt, unless that was too far ahead): read
		// one more than the limit to know whether more match. "0" sorts
		// after "/", so the bound takes in every key of the last instant.
		in := &dynamodb.QueryInput{
			TableName:                aws.String(r.Table),
			IndexName:                aws.String(IndexByTime),
			KeyConditionExpression:   aws.String("#s = :s AND #k BETWEEN :from AND :to"),
			ExpressionAttributeNames: map[string]string{"#s": KeyStreamID, "#k": AttrOrderKey},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":s": &types.AttributeValueMemberS{Value: q.StreamID}, ":from": values[":from"],
				":to": &types.AttributeValueMemberS{Value: to + "0"},
			},
			ScanIndexForward: aws.Bool(true),
		}
		for len(recs) <= limit {
			out, err := r.Client.Query(ctx, in)
			if err != nil {
				return nil, false, fmt.Errorf("eventstore: query stream %s in %s: %w", q.StreamID, r.Table, err)
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
			TableName:                 aws.String(r.Table),
			FilterExpression:          aws.String("#t BETWEEN :from AND :to"),
			ExpressionAttributeNames:  map[string]string{"#t": attr},
			ExpressionAttributeValues: values,
		}
		if q.StreamID != "" {
			*in.FilterExpression += " AND #s = :s"
			in.ExpressionAttributeNames["#s"] = AttrStreamID
			in.ExpressionAttributeValues[":s"] = &types.AttributeValueMemberS{Value: q.StreamID}
		}
		for {
			out, err := r.Client.Scan(ctx, in)
			if err != nil {
				return nil, false, fmt.Errorf("eventstore: scan %s: %w", r.Table, err)
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
