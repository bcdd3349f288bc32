package testenv_test

import (
	"bytes"
	"os/exec"
	"slices"
	"testing"

	"github.com/streamhook/fastpix-receiver/infra/samtemplate"
	"github.com/streamhook/fastpix-receiver/internal/repo"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
)

// The previous layout the migration proofs create is the one the template
// declared, not a guess: template-before-log.yaml is that commit's
// template.yaml byte for byte, and its EventsTable is keyed by event id
// with the byStream index.
func TestTemplateBeforeLog(t *testing.T) {
	tbl, err := testenv.TemplateBeforeLog(t).Table(testenv.OldEventsTableID)
	if err != nil {
		t.Fatal(err)
	}
	if len(tbl.KeySchema) != 1 || tbl.KeySchema[0].Name != "eventId" || len(tbl.GlobalSecondaryIndexes) != 1 ||
		tbl.GlobalSecondaryIndexes[0].Name != "byStream" || len(tbl.LocalSecondaryIndexes) != 0 {
		t.Fatalf("the old EventsTable is %+v, want key eventId and one index byStream", tbl)
	}
	if !slices.Equal(tbl.GlobalSecondaryIndexes[0].KeySchema, []samtemplate.Key{{Name: "streamId", KeyType: "HASH"}, {Name: "occurredAt", KeyType: "RANGE"}}) {
		t.Errorf("byStream is keyed %+v", tbl.GlobalSecondaryIndexes[0].KeySchema)
	}

	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git to compare with the history")
	}
	want, err := exec.Command(git, "-C", root, "show", testenv.TemplateBeforeLogCommit+":template.yaml").Output()
	if err != nil {
		t.Skipf("the commit is not in this clone (shallow?): %v", err)
	}
	if !bytes.Equal(testenv.TemplateBeforeLogText(), want) {
		t.Errorf("template-before-log.yaml differs from template.yaml at %s", testenv.TemplateBeforeLogCommit)
	}
}
