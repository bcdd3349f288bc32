package samtemplate_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/streamhook/fastpix-receiver/infra/samtemplate"
)

const rawTemplate = `AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Days:
    Type: Number
    Default: "90"
  NoDefault:
    Type: String
Globals:
  Function:
    Environment:
      Variables:
        LOG_LEVEL: info
        RETENTION_DAYS: "30"
Resources:
  EventsTable:
    Type: AWS::DynamoDB::Table
  LiveTopic:
    Type: AWS::SNS::Topic
  DownTopic:
    Type: AWS::SNS::Topic
  Notifier:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          ALERT_ROUTES: !Sub '{"video.live_stream.active":"${LiveTopic}","x":"${DownTopic.TopicName}","lit":"${!Kept}"}'
          TABLE: !Ref EventsTable
          LONG: {"Fn::Sub": "${AWS::Region}-x"}
          ATTR: !GetAtt EventsTable.StreamArn
          RETENTION_DAYS: "7"
      Events:
        Stream:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt EventsTable.StreamArn
            StartingPosition: LATEST
            BatchSize: 25
            MaximumRetryAttempts: 3
            MaximumRecordAgeInSeconds: 600
            DestinationConfig:
              OnFailure:
                Type: SQS
                Destination: !GetAtt Dlq.Arn
            FunctionResponseTypes: [ReportBatchItemFailures]
            FilterCriteria:
              Filters:
                - Pattern: '{"eventName": ["INSERT"]}'
                - Pattern:
                    eventName: [MODIFY]
  Api:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Hook:
          Type: HttpApi
          Properties:
            Path: /webhooks/fastpix
            Method: post
        Query:
          Type: HttpApi
          Properties:
            Path: /streams/{streamId}
            Method: GET
`

func TestRaw(t *testing.T) {
	path := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(path, []byte(rawTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	raw, err := samtemplate.LoadRaw(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := raw.ParameterDefaults(); len(got) != 1 || got["Days"] != "90" {
		t.Fatalf("parameter defaults %v", got)
	}
	if got := raw.ResourcesOfType("AWS::SNS::Topic"); !slices.Equal(got, []string{"DownTopic", "LiveTopic"}) {
		t.Fatalf("topics %v", got)
	}
	if !raw.HasResource("Notifier") || raw.HasResource("Nope") {
		t.Fatal("HasResource")
	}

	env, err := raw.Environment("Notifier")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"LiveTopic": "arn:aws:sns:us-east-1:1:LiveTopic", "DownTopic.TopicName": "DownTopic",
		"EventsTable": "events", "AWS::Region": "us-east-1", "EventsTable.StreamArn": "arn:stream",
	}
	tests := []struct{ name, want string }{
		{"ALERT_ROUTES", `{"video.live_stream.active":"arn:aws:sns:us-east-1:1:LiveTopic","x":"DownTopic","lit":"${Kept}"}`},
		{"TABLE", "events"},
		{"LONG", "us-east-1-x"},
		{"ATTR", "arn:stream"},
		{"RETENTION_DAYS", "7"}, // the function's own value wins over Globals
		{"LOG_LEVEL", "info"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := env[tc.name]
			if !ok {
				t.Fatalf("no %s in %v", tc.name, env)
			}
			got, err := v.Substitute(vars)
			if err != nil || got != tc.want {
				t.Fatalf("= %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := env["ALERT_ROUTES"].Substitute(map[string]string{}); !errors.Is(err, samtemplate.ErrUnresolved) {
		t.Fatalf("unresolved reference: %v", err)
	}

	src, err := raw.StreamSource("Notifier")
	if err != nil {
		t.Fatal(err)
	}
	if src.Table != "EventsTable" || src.StartingPosition != "LATEST" || src.BatchSize != 25 || src.MaximumRetryAttempts != 3 ||
		!src.ReportBatchItemFailures || !slices.Equal(src.FilterPatterns, []string{`{"eventName": ["INSERT"]}`, `{"eventName":["MODIFY"]}`}) {
		t.Fatalf("stream source %+v", src)
	}
	if dest, err := src.OnFailure.Substitute(map[string]string{"Dlq.Arn": "arn:dlq"}); err != nil || dest != "arn:dlq" || src.MaximumRecordAgeInSeconds != 600 {
		t.Fatalf("on-failure destination %q (%v), maximum record age %d", dest, err, src.MaximumRecordAgeInSeconds)
	}
	if _, err := raw.StreamSource("Api"); err == nil {
		t.Fatal("a function without a DynamoDB event has a stream source")
	}

	routes := raw.HTTPRoutes()
	var keys []string
	for _, r := range routes {
		keys = append(keys, r.Function+" "+r.RouteKey())
	}
	if !slices.Equal(keys, []string{"Api GET /streams/{streamId}", "Api POST /webhooks/fastpix"}) {
		t.Fatalf("routes %v", keys)
	}
}

// TestRawRepositoryTemplate reads the real template.yaml the local stack
// starts from.
func TestRawRepositoryTemplate(t *testing.T) {
	raw, err := samtemplate.LoadRawDefault()
	if err != nil {
		t.Fatal(err)
	}
	if !raw.HasResource("EventsTable") {
		t.Fatal("template.yaml has no EventsTable")
	}
	if raw.HasResource("NotifierFunction") {
		env, err := raw.Environment("NotifierFunction")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := env["ALERT_ROUTES"]; !ok {
			t.Fatal("NotifierFunction has no ALERT_ROUTES")
		}
		if _, err := raw.StreamSource("NotifierFunction"); err != nil {
			t.Fatal(err)
		}
	}
}
