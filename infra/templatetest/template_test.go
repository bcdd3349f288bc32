package templatetest

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/streamhook/fastpix-receiver/infra/samtemplate"
	"github.com/streamhook/fastpix-receiver/internal/repo"
)

// The tests read template.yaml through the project's one reader, which
// keeps every intrinsic function as written (samtemplate.Node), so they can
// see what each value refers to.
var (
	loadOnce sync.Once
	loaded   *samtemplate.Template
	loadErr  error
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// readRepoFile returns the file at elem under the repository root.
func readRepoFile(t *testing.T, elem ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{repoRoot(t)}, elem...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func load(t *testing.T) *samtemplate.Template {
	t.Helper()
	loadOnce.Do(func() { loaded, loadErr = samtemplate.LoadDefault() })
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return loaded
}

// resource returns the template's resource id, failing the test when there
// is none.
func resource(tb testing.TB, tp *samtemplate.Template, id string) samtemplate.Resource {
	tb.Helper()
	r, err := tp.Resource(id)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func props(tb testing.TB, tp *samtemplate.Template, id string) samtemplate.Node {
	tb.Helper()
	return resource(tb, tp, id).Properties()
}

// notifies reports whether an alarm's AlarmActions reach OperationsTopic.
func notifies(p samtemplate.Node) bool {
	for _, a := range p.Get("AlarmActions").List() {
		if a.Target() == "OperationsTopic" {
			return true
		}
	}
	return false
}
