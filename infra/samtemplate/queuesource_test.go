package samtemplate_test

import (
	"testing"

	"github.com/streamhook/fastpix-receiver/infra/samtemplate"
)

func TestQueueSource(t *testing.T) {
	const tmpl = `Resources:
  Checks:
    Type: AWS::SQS::Queue
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Checks:
          Type: SQS
          Properties:
            Queue: !GetAtt Checks.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
  Defaults:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Checks:
          Type: SQS
          Properties:
            Queue: {"Fn::GetAtt": ["Checks", "Arn"]}
  NoQueue:
    Type: AWS::Serverless::Function
    Properties:
      Events: {}
  ByURL:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Checks:
          Type: SQS
          Properties:
            Queue: !Ref Checks
  Elsewhere:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Checks:
          Type: SQS
          Properties:
            Queue: arn:aws:sqs:us-east-1:123456789012:other
`
	raw, err := samtemplate.Parse([]byte(tmpl))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		fn      string
		want    samtemplate.QueueSource
		found   bool
		wantErr bool
	}{
		{fn: "Fn", want: samtemplate.QueueSource{Queue: "Checks", BatchSize: 5, ReportBatchItemFailures: true}, found: true},
		{fn: "Defaults", want: samtemplate.QueueSource{Queue: "Checks", BatchSize: 10}, found: true},
		{fn: "NoQueue"},
		{fn: "ByURL", found: true, wantErr: true},
		{fn: "Elsewhere", found: true, wantErr: true},
		{fn: "Checks", wantErr: true},
	}
	for _, tc := range tests {
		got, found, err := raw.QueueSource(tc.fn)
		if (err != nil) != tc.wantErr || found != tc.found || (!tc.wantErr && got != tc.want) {
			t.Errorf("%s: %+v, %v, %v; want %+v, %v, error %v", tc.fn, got, found, err, tc.want, tc.found, tc.wantErr)
		}
	}
	repo, err := samtemplate.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	if src, found, err := repo.QueueSource("NotifierFunction"); err != nil || !found || src.Queue != "DisconnectCheckQueue" || !src.ReportBatchItemFailures {
		t.Errorf("template.yaml's notifier: %+v, %v, %v; want DisconnectCheckQueue with ReportBatchItemFailures", src, found, err)
	}
}
