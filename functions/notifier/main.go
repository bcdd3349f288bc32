// Command notifier is the Lambda on the events table's DynamoDB stream: it
// keeps each stream's state and publishes notable transitions to SNS.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/ddbstream"
	"github.com/streamhook/fastpix-receiver/pkg/lambdaenv"
	"github.com/streamhook/fastpix-receiver/pkg/metrics"
	"github.com/streamhook/fastpix-receiver/pkg/notify"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

func main() {
	env := lambdaenv.Start()
	cfg := env.AWS()
	table := env.Required("STATE_TABLE")
	routes, err := alerts.ParseRoutes(env.Getenv("ALERT_ROUTES"))
	if err != nil {
		env.Log.Error("ALERT_ROUTES", "error", err.Error())
		os.Exit(1)
	}
	if len(routes) == 0 {
		env.Log.Warn("ALERT_ROUTES is empty: state is kept, no alert is published")
	}
	publishTests := env.Bool("PUBLISH_TEST_EVENTS", true)
	env.Log.Info("notifier configured", "stateTable", table, "routedTypes", routes.Types(), "publishTestEvents", publishTests)
	log := env.Log

	h := &ddbstream.Handler{
		Processor: &notify.Notifier{
			State:          &streamstate.Store{Client: dynamodb.NewFromConfig(cfg), Table: table},
			Publisher:      &alerts.SNSPublisher{Client: sns.NewFromConfig(cfg)},
			Routes:         routes,
			SkipTestEvents: !publishTests,
			Logger:         log,
		},
		Logger:   log,
		Observer: metrics.Notifier{E: &metrics.Emitter{W: os.Stdout, Function: "notifier"}},
	}
	lambda.Start(h.Handle)
}
