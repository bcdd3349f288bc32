package testenv

import (
	"context"
	_ "embed"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamhook/fastpix-receiver/infra/samtemplate"
)

// templateBeforeLog is template.yaml as it was before the events table
// became each stream's log, byte for byte (git show
// TemplateBeforeLogCommit:template.yaml; TestTemplateBeforeLog checks it).
// Its EventsTable is the previous layout a deployed stack may still hold:
// partition key eventId, a byStream global index (streamId, occurredAt).
//
//go:embed template-before-log.yaml
var templateBeforeLog []byte

// TemplateBeforeLogCommit is the commit whose template.yaml
// template-before-log.yaml is: the parent of the change that made the
// events table each stream's log.
const TemplateBeforeLogCommit = "1046b58f50e5f2f981bc5477cdb32b7fbced2036"

// OldEventsTableID is the logical id of the events table in the template
// before the log.
const OldEventsTableID = "EventsTable"

var (
	oldTmplOnce sync.Once
	oldTmpl     *samtemplate.Template
	oldTmplErr  error
)

// TemplateBeforeLog is the parsed template of the previous layout.
func TemplateBeforeLog(t testing.TB) *samtemplate.Template {
	t.Helper()
	oldTmplOnce.Do(func() { oldTmpl, oldTmplErr = samtemplate.Parse(templateBeforeLog) })
	if oldTmplErr != nil {
		t.Fatalf("the template before the log: %v", oldTmplErr)
	}
	return oldTmpl
}

// TemplateBeforeLogText is template-before-log.yaml's bytes.
func TemplateBeforeLogText() []byte { return templateBeforeLog }

// CreateOldEventsTable creates, in client's DynamoDB under a fresh name,
// the events table exactly as the template before the log declared it,
// deletes it when the test ends, and returns its name.
func CreateOldEventsTable(t testing.TB, client *dynamodb.Client) string {
	t.Helper()
	name := UniqueName(t, "Old"+OldEventsTableID)
	in, err := TemplateBeforeLog(t).CreateTableInput(OldEventsTableID, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateTable(context.Background(), in); err != nil {
		t.Fatalf("create the old events table %s: %v", name, err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return name
}
