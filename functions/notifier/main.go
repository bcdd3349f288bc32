// Command notifier is the Lambda on the events table's DynamoDB stream and
// on the held disconnects' check queue: it brings each stream's state up
// to date with its log, decides its alerts by the alert rules and sends
// them to SNS. internal/app/notifier says how it is assembled.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/streamhook/fastpix-receiver/internal/app/notifier"
	"github.com/streamhook/fastpix-receiver/pkg/lambdaenv"
)

func main() {
	env := lambdaenv.Start()
	cfg, err := notifier.ConfigFromEnv(env.Getenv)
	env.Check("configuration", err)
	fn, err := notifier.New(cfg, env.AWS(), env.Log, os.Stdout)
	env.Check("wiring", err)
	lambda.Start(fn.Handle)
}
