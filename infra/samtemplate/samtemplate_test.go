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
	if len(td.KeySchema) != 2 || aws.ToString(td.KeySchema[0].AttributeName) != eventstore.KeyStreamID || aws.ToString(td.KeySchema[1].AttributeName) != eventstore.KeyEventID {
		t.Errorf("key schema = %+v, want %s, %s", td.KeySchema, eventstore.KeyStreamID, eventstore.KeyEventID)
	}
	if len(td.LocalSecondaryIndexes) != 1 || len(td.GlobalSecondaryIndexes) != 0 {
		t.Fatalf("indexes: %d local, %d global; want the one local index", len(td.LocalSecondaryIndexes), len(td.GlobalSecondaryIndexes))
	}
	lsi := td.LocalSecondaryIndexes[0]
	if aws.ToString(lsi.IndexName) != eventstore.IndexByTime {
		t.Errorf("index = %s, want %s", aws.ToString(lsi.IndexName), eventstore.IndexByTime)
	}
	if h, r := aws.ToString(lsi.KeySchema[0].AttributeName), aws.ToString(lsi.KeySchema[1].AttributeName); h != eventstore.KeyStreamID || r != eventstore.AttrOrderKey {
		t.Errorf("index keys = %s/%s", h, r)
	}
	if td.StreamSpecification == nil || !aws.ToBool(td.StreamSpecification.StreamEnabled) || td.LatestStreamArn == nil {
		t.Errorf("events table has no stream: %+v", td.StreamSpecification)
	}
}
