// Command notifier is the Lambda on the events table's DynamoDB stream and
// on the held disconnects' check queue: it keeps each stream's state,
// decides its alerts by the alert rules and publishes them to SNS.
// internal/app/notifier says how it is assembled.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/streamhook/fastpix-receiver/internal/app/notifier"
	"github.com/streamhook/fastpix-receiver/pkg/eventsource"
	"github.com/streamhook/fastpix-receiver/pkg/lambdaenv"
)

func main() {
	env := lambdaenv.Start()
	cfg, err := notifier.ConfigFromEnv(env.Getenv)
	env.Check("configuration", err)
	awsCfg := env.AWS()
	stream, err := notifier.New(cfg, awsCfg, env.Log, os.Stdout)
	env.Check("wiring", err)
	checks, err := notifier.NewChecks(cfg, awsCfg, env.Log)
	env.Check("wiring", err)
	lambda.Start((&eventsource.Mux{DynamoDB: stream.Handle, SQS: checks.Handle}).Handle)
}
