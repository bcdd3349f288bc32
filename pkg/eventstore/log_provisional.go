package eventstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/internal/ddbitem"
)

// PROVISIONAL: replaced by the events log layout's own definitions on merge.

// LogReader reads a stream's log.
type LogReader interface {
	ReadLog(ctx context.Context, logKey, after string) ([]Record, error)
}

const noStreamPrefix = "nostream/"

// LogKey is the record's partition value.
func (r Record) LogKey() string {
	if r.StreamID != "" {
		return r.StreamID
	}
	if r.ObjectID != "" {
		return noStreamPrefix + r.ObjectID
	}
	return noStreamPrefix + r.EventID
}

// StreamOfLogKey is the stream a log key is of, and false for the log of
// events about no stream.
func StreamOfLogKey(key string) (string, bool) {
	if strings.HasPrefix(key, noStreamPrefix) {
		return "", false
	}
	return key, true
}

// IndexByTime is the local secondary index ordering a stream's log.
const (
	IndexByTime  = "byTime"
	AttrOrderKey = "orderKey"
)

// Log reads streams' logs from the events table.
type Log struct {
	Client QueryAPI
	Table  string
}

var _ LogReader = (*Log)(nil)

// ReadLog implements LogReader.
func (l *Log) ReadLog(ctx context.Context, logKey, after string) ([]Record, error) {
	in := &dynamodb.QueryInput{
		TableName:                aws.String(l.Table),
		IndexName:                aws.String(IndexByTime),
		ConsistentRead:           aws.Bool(true),
		KeyConditionExpression:   aws.String("#k = :k"),
		ExpressionAttributeNames: map[string]string{"#k": AttrStreamID},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":k": &types.AttributeValueMemberS{Value: logKey},
		},
	}
	if after != "" {
		in.KeyConditionExpression = aws.String("#k = :k AND #o > :after")
		in.ExpressionAttributeNames["#o"] = AttrOrderKey
		in.ExpressionAttributeValues[":after"] = &types.AttributeValueMemberS{Value: after}
	}
	var out []Record
	for {
		page, err := l.Client.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("eventstore: read the log of %s after %q: %w", logKey, after, err)
		}
		for _, item := range page.Items {
			r, err := RecordFromItem(item)
			if err != nil {
				return nil, err
			}
			r.OrderKey = ddbitem.String(item, AttrOrderKey)
			out = append(out, r)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}
