package samtemplate_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/streamhook/fastpix-receiver/infra/samtemplate"
)

const testTemplate = `AWSTemplateFormatVersion: "2010-09-09"
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
Conditions:
  HasEmail: !Not [!Equals [!Ref Days, ""]]
Resources:
  EventsTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: id, AttributeType: S}
        - {AttributeName: sid, AttributeType: S}
      KeySchema:
        - {AttributeName: id, KeyType: HASH}
      GlobalSecondaryIndexes:
        - IndexName: bySid
          KeySchema: [{AttributeName: sid, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
      TimeToLiveSpecification: {AttributeName: ttl, Enabled: true}
      DeletionProtectionEnabled: !If [HasEmail, true, false]
  LiveTopic:
    Type: AWS::SNS::Topic
  DownTopic:
    Type: AWS::SNS::Topic
  DownEmail:
    Type: AWS::SNS::Subscription
    Condition: HasEmail
    Properties:
      TopicArn: !Ref DownTopic
      Protocol: email
  Notifier:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 30
      Tracing: "30"
      Policies:
        - Statement:
            - Sid: Publish
              Effect: Allow
              Action: [sns:Publish, kms:Decrypt]
              Resource:
                - !Ref LiveTopic
                - !Sub "${DownTopic}"
            - Effect: Allow
              Action: dynamodb:PutItem
              Resource: !GetAtt [EventsTable, Arn]
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
            MaximumBatchingWindowInSeconds: 2
            ParallelizationFactor: 4
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

func load(t *testing.T) *samtemplate.Template {
	t.Helper()
	path := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(path, []byte(testTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	raw, err := samtemplate.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestTemplate(t *testing.T) {
	raw := load(t)
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
		src.MaximumBatchingWindowInSeconds != 2 || src.ParallelizationFactor != 4 ||
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

// TestRepositoryTemplate reads the real template.yaml the local stack
// starts from.
func TestRepositoryTemplate(t *testing.T) {
	raw, err := samtemplate.LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	if !raw.HasResource("EventLogTable") {
		t.Fatal("template.yaml has no EventLogTable")
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

// A value reads as written: intrinsics in short and long form name what
// they refer to, plain scalars keep their YAML type.
func TestNode(t *testing.T) {
	tp := load(t)
	notifier, err := tp.Resource("Notifier")
	if err != nil {
		t.Fatal(err)
	}
	env := notifier.Properties().Get("Environment", "Variables")
	targets := []struct {
		key, intrinsic, target string
		refs                   []string
	}{
		{"TABLE", "Ref", "EventsTable", []string{"EventsTable"}},
		{"ATTR", "Fn::GetAtt", "EventsTable.StreamArn", []string{"EventsTable"}},
		{"LONG", "Fn::Sub", "${AWS::Region}-x", []string{"AWS::Region"}},
		{"ALERT_ROUTES", "Fn::Sub", `{"video.live_stream.active":"${LiveTopic}","x":"${DownTopic.TopicName}","lit":"${!Kept}"}`, []string{"LiveTopic", "DownTopic"}},
		{"RETENTION_DAYS", "", "7", nil},
	}
	for _, tc := range targets {
		v := env.Get(tc.key)
		if name, _ := v.Intrinsic(); name != tc.intrinsic {
			t.Errorf("%s: intrinsic %q, want %q", tc.key, name, tc.intrinsic)
		}
		if got := v.Target(); got != tc.target {
			t.Errorf("%s: target %q, want %q", tc.key, got, tc.target)
		}
		if got := v.Refs(); !slices.Equal(got, tc.refs) {
			t.Errorf("%s: refs %v, want %v", tc.key, got, tc.refs)
		}
	}
	if keys := env.Keys(); !slices.Equal(keys, []string{"ALERT_ROUTES", "TABLE", "LONG", "ATTR", "RETENTION_DAYS"}) {
		t.Errorf("keys in template order: %v", keys)
	}
	if env.Get("TABLE").Text() != "" || env.Get("RETENTION_DAYS").Text() != "7" {
		t.Error("Text is a plain scalar's text only")
	}

	p := notifier.Properties()
	if v, ok := p.Get("Timeout").Number(); !ok || v != 30 {
		t.Errorf("Timeout = %v, %v; want the number 30", v, ok)
	}
	if _, ok := p.Get("Tracing").Number(); ok {
		t.Error(`a quoted "30" is not a number`)
	}
	if p.Get("Nope", "Deeper").Exists() || p.Get("Nope").List() != nil || p.Get("Nope").Target() != "" {
		t.Error("an absent value must read as absent")
	}

	sts := samtemplate.Statements(p.Get("Policies").List()[0])
	var grants []string
	for _, st := range sts {
		for _, a := range st.Actions {
			for _, r := range st.Resources {
				grants = append(grants, st.Effect+" "+a+" "+r.Target())
			}
		}
	}
	if want := []string{"Allow sns:Publish LiveTopic", "Allow sns:Publish ${DownTopic}", "Allow kms:Decrypt LiveTopic",
		"Allow kms:Decrypt ${DownTopic}", "Allow dynamodb:PutItem EventsTable.Arn"}; !slices.Equal(grants, want) {
		t.Errorf("statements %v, want %v", grants, want)
	}
	if sts[0].Sid != "Publish" || sts[1].Sid != "" {
		t.Errorf("sids %q %q", sts[0].Sid, sts[1].Sid)
	}

	// A conditional resource is kept, its condition readable.
	sub, err := tp.Resource("DownEmail")
	if err != nil || sub.Condition() != "HasEmail" || sub.Type() != "AWS::SNS::Subscription" || sub.Properties().Get("TopicArn").Target() != "DownTopic" {
		t.Fatalf("conditional resource %v (%v)", sub, err)
	}
	if _, err := tp.Resource("Nope"); !errors.Is(err, samtemplate.ErrNoResource) {
		t.Errorf("missing resource: %v", err)
	}
	if cond := tp.Section("Conditions").Get("HasEmail"); cond.String() != `{"Fn::Not":[{"Fn::Equals":[{"Ref":"Days"},""]}]}` {
		t.Errorf("condition = %s", cond)
	}

	// Walk reaches every value, intrinsic arguments included.
	tbl, _ := tp.Resource("EventsTable")
	var where []string
	tbl.Walk(func(w string, v samtemplate.Node) {
		if v.Text() == "true" || v.Text() == "HasEmail" {
			where = append(where, w)
		}
	})
	if want := []string{".Properties.TimeToLiveSpecification.Enabled", ".Properties.DeletionProtectionEnabled.Fn::If[0]", ".Properties.DeletionProtectionEnabled.Fn::If[1]"}; !slices.Equal(where, want) {
		t.Errorf("walk found %v, want %v", where, want)
	}
	if !tbl.Get("Properties", "TimeToLiveSpecification", "Enabled").Bool() || tbl.Get("Properties", "BillingMode").Bool() {
		t.Error("Bool")
	}
}

func TestTable(t *testing.T) {
	tp := load(t)
	tbl, err := tp.Table("EventsTable")
	if err != nil {
		t.Fatal(err)
	}
	if tbl.BillingMode != "PAY_PER_REQUEST" || tbl.StreamViewType != "NEW_IMAGE" || tbl.TTLAttribute != "ttl" ||
		!slices.Equal(tbl.KeySchema, []samtemplate.Key{{"id", "HASH"}}) ||
		!slices.Equal(tbl.AttributeDefinitions, []samtemplate.Attribute{{"id", "S"}, {"sid", "S"}}) ||
		len(tbl.GlobalSecondaryIndexes) != 1 || tbl.GlobalSecondaryIndexes[0].Name != "bySid" || tbl.GlobalSecondaryIndexes[0].ProjectionType != "ALL" {
		t.Fatalf("table %+v", tbl)
	}
	in, err := tp.CreateTableInput("EventsTable", "events-1")
	if err != nil {
		t.Fatal(err)
	}
	if *in.TableName != "events-1" || len(in.GlobalSecondaryIndexes) != 1 || in.StreamSpecification == nil || !*in.StreamSpecification.StreamEnabled {
		t.Fatalf("create table input %+v", in)
	}
	if _, err := tp.Table("LiveTopic"); err == nil {
		t.Error("a topic read as a table")
	}
}

// What the local stack cannot read is an error naming it, never a guess.
func TestTemplateErrors(t *testing.T) {
	parse := []struct{ name, text string }{
		{"not YAML", "Resources: [unclosed"},
		{"empty", ""},
		{"a list", "- a\n- b\n"},
		{"no Resources", "Parameters: {}\n"},
	}
	for _, tc := range parse {
		if _, err := samtemplate.Parse([]byte(tc.text)); err == nil {
			t.Errorf("%s: parsed", tc.name)
		}
	}
	if _, err := samtemplate.Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("loaded a missing file")
	}

	env := []struct{ name, value string }{
		{"Sub with a variable map", `!Sub ["${X}", {X: !Ref Y}]`},
		{"If", `!If [C, a, b]`},
		{"null", `~`},
		{"a mapping", `{a: b}`},
		{"bad GetAtt", `!GetAtt [a, b, c]`},
	}
	for _, tc := range env {
		text := "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Environment:\n        Variables:\n          V: " + tc.value + "\n"
		tp, err := samtemplate.Parse([]byte(text))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if _, err := tp.Environment("Fn"); err == nil || !strings.Contains(err.Error(), "Fn environment V") {
			t.Errorf("%s: environment error %v, want one naming Fn's V", tc.name, err)
		}
	}

	tp := load(t)
	if _, err := tp.Environment("LiveTopic"); err == nil {
		t.Error("a topic has an environment")
	}
	bad := strings.Replace(testTemplate, "BatchSize: 25", "BatchSize: many", 1)
	tp2, err := samtemplate.Parse([]byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tp2.StreamSource("Notifier"); err == nil || !strings.Contains(err.Error(), "BatchSize") {
		t.Errorf("BatchSize many: %v", err)
	}
}
