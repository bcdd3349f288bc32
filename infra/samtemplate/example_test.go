package samtemplate_test

import (
	"fmt"

	"github.com/streamhook/fastpix-receiver/infra/samtemplate"
)

// A contract test reads the template as written: what each statement grants,
// on what, with the intrinsic functions named rather than resolved.
func ExampleTemplate() {
	tp, err := samtemplate.Parse([]byte(`
Resources:
  Events:
    Type: AWS::DynamoDB::Table
  Writer:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 10
      Environment:
        Variables:
          EVENTS_TABLE: !Ref Events
      Policies:
        - Statement:
            - Effect: Allow
              Action: [dynamodb:PutItem, dynamodb:GetItem]
              Resource: !GetAtt Events.Arn
`))
	if err != nil {
		panic(err)
	}
	fn, _ := tp.Function("Writer")
	timeout, _ := fn.Properties().Get("Timeout").Number()
	fmt.Println("timeout", timeout)
	fmt.Println("EVENTS_TABLE refers to", fn.Properties().Get("Environment", "Variables", "EVENTS_TABLE").Target())
	for _, policy := range fn.Properties().Get("Policies").List() {
		for _, st := range samtemplate.Statements(policy) {
			for _, a := range st.Actions {
				for _, r := range st.Resources {
					fmt.Println(st.Effect, a, "on", r.Target())
				}
			}
		}
	}
	fmt.Println(tp.ResourcesOfType("AWS::DynamoDB::Table"))
	// Output:
	// timeout 10
	// EVENTS_TABLE refers to Events
	// Allow dynamodb:PutItem on Events.Arn
	// Allow dynamodb:GetItem on Events.Arn
	// [Events]
}
