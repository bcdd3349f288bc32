// Package templatetest holds no code, only the proof that template.yaml
// deploys what the code expects, before anything reaches AWS.
//
// Its tests check the template's contract against the code (tables, topics,
// routes, environment, least-privilege statements, alarms, the Makefile
// targets sam build calls) and run the built artifacts: the arm64
// bootstraps `make build` produces, and the webhook's bootstrap served by
// AWS's Lambda Runtime Interface Emulator with DynamoDB Local behind it.
package templatetest
