package app_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/streamhook/fastpix-receiver/internal/repo"
)

const module = "github.com/streamhook/fastpix-receiver/"

// layers is the functions' package graph, bottom up: a package imports
// only packages of lower layers, so the domain never reaches up into its
// wiring (metrics know no outcome, the rules know no store, the notifier
// knows no Lambda type). The README's map draws the same graph. A new
// package fails TestNoUpwardImport until it is placed here.
var layers = [][]string{
	// Leaves: what FastPix sends, the rules, the formats and the small
	// tools, none of which knows any other part.
	{"pkg/fastpix", "pkg/alertrules", "pkg/checkqueue", "pkg/deadletter", "pkg/metrics", "pkg/deadline",
		"pkg/eventsource", "pkg/secrets", "internal/cursor", "internal/ddbitem"},
	// The events log, and the functions' settings.
	{"pkg/eventstore", "pkg/lambdaenv"},
	// What is built on the log: alerts rendered, stream state kept, events
	// received.
	{"pkg/alerts", "pkg/streamstate", "pkg/ingest"},
	// The change feed, and the HTTP handlers (webhook, query API).
	{"pkg/changefeed", "pkg/httpapi"},
	// The notifier: a stream brought up to date with its log.
	{"pkg/notify"},
	// The Lambda adapter of the events table's stream.
	{"pkg/ddbstream"},
	// Each function assembled once.
	{"internal/app/webhook", "internal/app/notifier", "internal/app/streams"},
	// The Lambdas' mains.
	{"functions/webhook", "functions/notifier", "functions/streams"},
}

func TestNoUpwardImport(t *testing.T) {
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	layer := map[string]int{}
	for i, l := range layers {
		for _, p := range l {
			layer[p] = i
		}
	}
	// Every package under functions/ and pkg/, and the internal ones
	// the functions use, must be placed.
	var found []string
	for _, dir := range []string{"functions", "pkg", "internal/app", "internal/cursor", "internal/ddbitem"} {
		_ = filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return err
			}
			if files, _ := filepath.Glob(filepath.Join(path, "*.go")); len(files) > 0 {
				rel, _ := filepath.Rel(root, path)
				if rel != "internal/app" { // the package of this test
					found = append(found, filepath.ToSlash(rel))
				}
			}
			return nil
		})
	}
	sort.Strings(found)
	if len(found) < 20 {
		t.Fatalf("found %d packages: %v", len(found), found)
	}
	for _, pkg := range found {
		l, ok := layer[pkg]
		if !ok {
			t.Errorf("%s is in no layer: place it in layers", pkg)
			continue
		}
		files, _ := filepath.Glob(filepath.Join(root, pkg, "*.go"))
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue // tests may use what they need
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				dep, ours := strings.CutPrefix(path, module)
				if !ours {
					continue
				}
				dl, placed := layer[dep]
				switch {
				case !placed:
					t.Errorf("%s imports %s, which the functions must not use", pkg, dep)
				case dl >= l:
					t.Errorf("%s (layer %d) imports %s (layer %d): an import must point down", pkg, l, dep, dl)
				}
			}
		}
	}
}
