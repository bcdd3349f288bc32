// Command streams is the Lambda behind the query routes: GET
// /streams/{streamId} (the stream's state) and GET
// /streams/{streamId}/events (its events, page by page). It only reads.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
	"github.com/streamhook/fastpix-receiver/pkg/lambdaenv"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

func main() {
	env := lambdaenv.Start()
	cfg := env.AWS()
	eventsTable, stateTable := env.Required("EVENTS_TABLE"), env.Required("STATE_TABLE")
	log := env.Log
	client := dynamodb.NewFromConfig(cfg)
	h := &httpapi.Streams{
		Events: &eventstore.Reader{Client: client, Table: eventsTable},
		State:  &streamstate.Store{Client: client, Table: stateTable},
		Logger: log,
	}
	lambda.Start(h.Handle)
}
