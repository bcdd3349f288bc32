// Package awslocal stands in for the pieces of AWS that no emulator here
// provides, built to their documented behaviour so the functions run on
// one machine as they run in AWS: API Gateway's HTTP API (Gateway: routes,
// payload format 2.0, the IAM-protected routes open), Lambda's event source
// mappings (Poller for the events table's stream: batches, the template's
// parallel lanes, bisect and retries, the on-failure destination's record;
// SQSSource for the check queue; Filter for FilterCriteria), and SNS's
// answer times (PublishLatency, FailFirstPublish: the proofs' faults).
// DynamoDB, SNS and SQS themselves are the real stand-ins (DynamoDB Local,
// goaws); the local stack (infra/localstack) assembles it all from
// template.yaml.
package awslocal
