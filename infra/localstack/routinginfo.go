package localstack

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/pkg/alerts"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// RoutingInfo is what a process other than the stack's needs to manage
// the stack's subscriptions: `make run` writes it for `make demo`.
type RoutingInfo struct {
	Routes           alerts.Routes `json:"routes"`
	SNSEndpoint      string        `json:"snsEndpoint"`
	DynamoDBEndpoint string        `json:"dynamodbEndpoint"`
	StateTable       string        `json:"stateTable"`
}

// RoutingInfo describes the stack's alert topics and fleet.
func (s *Stack) RoutingInfo() RoutingInfo {
	return RoutingInfo{Routes: s.Routes, SNSEndpoint: s.SNSEndpoint, DynamoDBEndpoint: s.DynamoDBEndpoint, StateTable: s.StateTable}
}

// Routing is fastpixctl's subscription code against the stack: its goaws,
// its routes, and its state table as the directory of workspaces.
func (i RoutingInfo) Routing() *ops.Routing {
	cfg := awsConfig(serviceEndpoints{"SNS": i.SNSEndpoint, "DynamoDB": i.DynamoDBEndpoint})
	return &ops.Routing{
		SNS:       sns.NewFromConfig(cfg),
		Routes:    i.Routes,
		Directory: ops.FleetDirectory{Fleet: &streamstate.Fleet{Client: dynamodb.NewFromConfig(cfg), Table: i.StateTable}},
	}
}
