// Command streams is the Lambda behind the query routes: GET
// /streams/{streamId} (the stream's state) and GET
// /streams/{streamId}/events (its events, page by page). It only reads.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/httpapi"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	slog.SetDefault(log)

	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("load AWS configuration", "error", err)
		os.Exit(1)
	}
	eventsTable, stateTable := os.Getenv("EVENTS_TABLE"), os.Getenv("STATE_TABLE")
	if eventsTable == "" || stateTable == "" {
		log.Error("EVENTS_TABLE and STATE_TABLE must both be set", "EVENTS_TABLE", eventsTable, "STATE_TABLE", stateTable)
		os.Exit(1)
	}
	client := dynamodb.NewFromConfig(cfg)
	h := &httpapi.Streams{
		Events: &eventstore.Reader{Client: client, Table: eventsTable},
		State:  &streamstate.Store{Client: client, Table: stateTable},
		Logger: log,
	}
	lambda.Start(h.Handle)
}
