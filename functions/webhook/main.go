// Command webhook is the Lambda behind POST /webhooks/fastpix: it verifies,
// redacts and stores each FastPix event once. internal/app/webhook says how
// it is assembled.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/streamhook/fastpix-receiver/internal/app/webhook"
	"github.com/streamhook/fastpix-receiver/pkg/lambdaenv"
)

func main() {
	env := lambdaenv.Start()
	cfg, err := webhook.ConfigFromEnv(env.Getenv)
	env.Check("configuration", err)
	h, err := webhook.New(cfg, env.AWS(), env.Log, os.Stdout)
	env.Check("wiring", err)
	lambda.Start(h.Handle)
}
