package samtemplate_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamhook/fastpix-receiver/internal/testenv"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
)

// The events table created from the template has the key and index the
// code writes and queries with.
func TestEventsTableFromTemplate(t *testing.T) {
	client := testenv.DynamoDB(t)
	name := testenv.CreateTable(t, client, "EventLogTable")
	out, err := client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	td := out.Table
	if got := aws.ToString(td.KeySchema[0].AttributeName); got != eventstore.KeyEventID || len(td.KeySchema) != 1 {
		t.Errorf("key schema = %v, want %s alone", got, eventstore.KeyEventID)
	}
	if len(td.GlobalSecondaryIndexes) != 1 {
		t.Fatalf("indexes = %d, want 1", len(td.GlobalSecondaryIndexes))
	}
	gsi := td.GlobalSecondaryIndexes[0]
	if aws.ToString(gsi.IndexName) != eventstore.IndexByStream {
		t.Errorf("index = %s, want %s", aws.ToString(gsi.IndexName), eventstore.IndexByStream)
	}
	if h, r := aws.ToString(gsi.KeySchema[0].AttributeName), aws.ToString(gsi.KeySchema[1].AttributeName); h != eventstore.AttrStreamID || r != eventstore.AttrOccurredAt {
		t.Errorf("index keys = %s/%s", h, r)
	}
	if td.StreamSpecification == nil || !aws.ToBool(td.StreamSpecification.StreamEnabled) || td.LatestStreamArn == nil {
		t.Errorf("events table has no stream: %+v", td.StreamSpecification)
	}
}
