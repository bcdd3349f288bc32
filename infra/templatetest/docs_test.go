package templatetest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/streamstate"
)

// section is the text of the markdown section whose heading starts with
// heading ("## Alarms"), up to the next heading of the same level.
func section(t *testing.T, doc, text, heading string) string {
	t.Helper()
	at := strings.Index(text, "\n"+heading)
	if at < 0 {
		t.Fatalf("%s has no section %q", doc, heading)
	}
	rest := text[at+1:]
	level := heading[:strings.Index(heading, " ")+1]
	if end := strings.Index(rest[1:], "\n"+level); end >= 0 {
		rest = rest[:end+1]
	}
	return rest
}

// The operations guide is where someone paged by an alarm looks: every
// alarm of the template has its row there (what it means, what to do),
// and every alarm the guide names is still in the template.
func TestOperationsGuideCoversEveryAlarm(t *testing.T) {
	tp := load(t)
	alarms := append(tp.ResourcesOfType("AWS::CloudWatch::Alarm"), tp.ResourcesOfType("AWS::CloudWatch::CompositeAlarm")...)
	if len(alarms) < 10 {
		t.Fatalf("the template has %d alarms; the test reads them wrong", len(alarms))
	}
	guide := section(t, "docs/operations.md", string(readRepoFile(t, "docs", "operations.md")), "## Alarms")
	rows := map[string][]string{} // alarm → its row's cells
	for _, line := range strings.Split(guide, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		for _, m := range regexp.MustCompile("`([A-Za-z0-9]+Alarm)`").FindAllStringSubmatch(cells[0], -1) {
			rows[m[1]] = cells
		}
	}
	for _, id := range alarms {
		cells, ok := rows[id]
		switch {
		case !ok:
			t.Errorf("docs/operations.md's alarm table has no row for %s: say what it means and what to do", id)
		case len(cells) != 3 || len(strings.TrimSpace(cells[1])) < 10 || len(strings.TrimSpace(cells[2])) < 10:
			t.Errorf("docs/operations.md's row for %s does not say both what it means and what to do: %q", id, cells)
		}
		delete(rows, id)
	}
	for id := range rows {
		t.Errorf("docs/operations.md has a row for %s, which template.yaml does not declare", id)
	}
	// The alarm's mail carries its description: where it sends the
	// reader must exist.
	for _, id := range alarms {
		desc := props(t, tp, id).Get("AlarmDescription").Text()
		if strings.Contains(desc, "README,") {
			t.Errorf("%s's description sends the reader to %q: the README has no such section; point to docs/operations.md", id, desc)
		}
	}
}

// Every docs/… path the template's text names (descriptions, comments)
// exists.
func TestTemplatesDocPointersResolve(t *testing.T) {
	text := string(readRepoFile(t, "template.yaml"))
	found := 0
	for _, m := range regexp.MustCompile(`docs/[a-z-]+\.md`).FindAllString(text, -1) {
		found++
		if _, err := os.Stat(filepath.Join(repoRoot(t), m)); err != nil {
			t.Errorf("template.yaml points to %s, which does not exist", m)
		}
	}
	if found == 0 {
		t.Error("template.yaml names no doc: the alarms' descriptions point to docs/operations.md")
	}
}

// docs/cost.md's fixed costs name every resource of the template that
// costs by the month (the secret, the KMS key, each alarm, the dashboard)
// and every table, topic and queue (free while idle, said so), and count
// the alarms' metrics as the template declares them.
func TestCostNamesTheTemplatesFixedCosts(t *testing.T) {
	tp := load(t)
	fixed := section(t, "docs/cost.md", string(readRepoFile(t, "docs", "cost.md")), "## Fixed")
	var ids []string
	for _, typ := range []string{"AWS::SecretsManager::Secret", "AWS::KMS::Key", "AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm",
		"AWS::CloudWatch::Dashboard", "AWS::DynamoDB::Table", "AWS::SNS::Topic", "AWS::SQS::Queue"} {
		got := tp.ResourcesOfType(typ)
		if len(got) == 0 && typ != "AWS::CloudWatch::CompositeAlarm" {
			t.Errorf("the template has no %s: the test reads it wrong", typ)
		}
		ids = append(ids, got...)
	}
	for _, id := range ids {
		if !strings.Contains(fixed, "`"+id+"`") {
			t.Errorf("docs/cost.md's fixed costs do not name %s (%s)", id, tp.TypeOf(id))
		}
	}
	for _, m := range regexp.MustCompile("`([A-Z][A-Za-z0-9]+(?:Alarm|Topic|Queue|Table|Key|Secret|Dashboard))`").FindAllStringSubmatch(fixed, -1) {
		if !tp.HasResource(m[1]) {
			t.Errorf("docs/cost.md prices %s, which template.yaml does not declare", m[1])
		}
	}
	// An alarm costs per metric it reads: a metric math alarm reads each
	// of its MetricStats.
	metrics := 0
	for _, id := range tp.ResourcesOfType("AWS::CloudWatch::Alarm") {
		n := 0
		for _, q := range props(t, tp, id).Get("Metrics").List() {
			if q.Get("MetricStat").Exists() {
				n++
			}
		}
		metrics += max(1, n)
	}
	if want := fmt.Sprintf("%d alarm metrics", metrics); !strings.Contains(fixed, want) {
		t.Errorf("docs/cost.md's fixed costs do not say %q (the template's alarms read %d metrics)", want, metrics)
	}
	if n := len(tp.ResourcesOfType("AWS::CloudWatch::CompositeAlarm")); n > 0 && !strings.Contains(fixed, fmt.Sprintf("%d composite alarm", n)) {
		t.Errorf("docs/cost.md's fixed costs do not say %d composite alarm(s)", n)
	}
}

// The docs point to the code rather than copy it: so every path and every
// `go doc` they name must resolve, or the pointer is a dead end.
func TestDocsPointersIntoTheCodeResolve(t *testing.T) {
	root := repoRoot(t)
	docs := map[string]string{"README.md": string(readRepoFile(t, "README.md")), "BENCHMARKS.md": string(readRepoFile(t, "BENCHMARKS.md"))}
	paths, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	for _, p := range paths {
		docs["docs/"+filepath.Base(p)] = string(readRepoFile(t, "docs", filepath.Base(p)))
	}
	goDoc := regexp.MustCompile("go doc (?:-all )?\\./([a-z][a-z0-9/]*)(?: ([A-Z][A-Za-z0-9]*))?")
	path := regexp.MustCompile("`((?:pkg|internal|infra|functions)/[a-z0-9_./-]*[a-z0-9])`")
	checked := 0
	for name, text := range docs {
		text = strings.ReplaceAll(text, "\n", " ")
		for _, m := range goDoc.FindAllStringSubmatch(text, -1) {
			checked++
			dir := filepath.Join(root, m[1])
			srcs, _ := filepath.Glob(filepath.Join(dir, "*.go"))
			if len(srcs) == 0 {
				t.Errorf("%s: `go doc ./%s` names no package", name, m[1])
				continue
			}
			if m[2] == "" {
				continue
			}
			decl := regexp.MustCompile(`(?m)^(?:func (?:\([^)]*\) )?|type |var |const )?\s*` + m[2] + `\b[^\n]*`)
			found := false
			for _, src := range srcs {
				if strings.HasSuffix(src, "_test.go") {
					continue
				}
				b, err := os.ReadFile(src)
				if err != nil {
					t.Fatal(err)
				}
				if decl.Match(b) {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("%s: `go doc ./%s %s`: the package declares no %s", name, m[1], m[2], m[2])
			}
		}
		for _, m := range path.FindAllStringSubmatch(text, -1) {
			checked++
			if _, err := os.Stat(filepath.Join(root, m[1])); err != nil {
				t.Errorf("%s names `%s`, which does not exist", name, m[1])
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d pointers into the code found: the test reads the docs wrong", checked)
	}

	// The tests, benchmarks and fuzz targets the docs name by name exist.
	declared := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "bin") && p != root {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range regexp.MustCompile(`(?m)^func ((?:Test|Benchmark|Fuzz)[A-Z0-9]\w*)\(`).FindAllSubmatch(b, -1) {
			declared[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range docs {
		for _, m := range regexp.MustCompile("`((?:Test|Benchmark|Fuzz)[A-Z0-9]\\w*)`").FindAllStringSubmatch(text, -1) {
			if !declared[m[1]] {
				t.Errorf("%s names %s, which no test file declares", name, m[1])
			}
		}
	}
}

// docs/deploy.md's parameter table is the one place a deployer reads the
// parameters: it names every parameter of the template, no other, each with
// the template's default (and the range the template enforces, when it says
// one).
func TestDeployGuideParametersAreTheTemplates(t *testing.T) {
	tp := load(t)
	defaults := tp.ParameterDefaults()
	guide := string(readRepoFile(t, "docs", "deploy.md"))
	seen := map[string]bool{}
	for _, line := range strings.Split(guide, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) != 3 {
			t.Errorf("docs/deploy.md: parameter row %q has %d cells, want 3 (parameter, default, what)", line, len(cells))
			continue
		}
		for _, m := range regexp.MustCompile("`([A-Za-z0-9]+)`").FindAllStringSubmatch(cells[0], -1) {
			name := m[1]
			seen[name] = true
			p := tp.Parameter(name)
			if !p.Exists() {
				t.Errorf("docs/deploy.md lists parameter %s, which template.yaml does not declare", name)
				continue
			}
			want := defaults[name]
			if want == "" {
				want = "empty"
			}
			if got := strings.TrimSpace(cells[1]); got != want {
				t.Errorf("docs/deploy.md gives %s the default %q; template.yaml's is %q", name, got, want)
			}
			lo, okLo := p.Get("MinValue").Number()
			hi, okHi := p.Get("MaxValue").Number()
			if okLo && okHi && strings.Contains(cells[2], " to ") && !strings.Contains(cells[2], fmt.Sprintf("%g to %g", lo, hi)) {
				t.Errorf("docs/deploy.md gives %s a range other than the template's %g to %g: %q", name, lo, hi, cells[2])
			}
		}
	}
	for _, name := range tp.Section("Parameters").Keys() {
		if !seen[name] {
			t.Errorf("docs/deploy.md's parameter table does not list %s", name)
		}
	}
}

// docs/query.md is the query API's reference: the limits it states are the
// code's constants (pkg/eventstore's for a stream's events, pkg/streamstate's
// for the fleet) (it is where a client reads them; the code is where they
// are decided).
func TestQueryGuideLimitsAreTheCodes(t *testing.T) {
	text := strings.Join(strings.Fields(string(readRepoFile(t, "docs", "query.md"))), " ")
	for _, want := range []string{
		fmt.Sprintf("(default %d, at most %d)", eventstore.DefaultLimit, eventstore.MaxLimit),
		fmt.Sprintf("at most %d):", eventstore.MaxTypes),
		fmt.Sprintf("`limit` not 1 to %d", eventstore.MaxLimit),
		fmt.Sprintf("more than %d types", eventstore.MaxTypes),
		// the fleet listing's page
		fmt.Sprintf("`limit` 1 to %d (default %d)", streamstate.MaxListLimit, streamstate.DefaultListLimit),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("docs/query.md does not say %q, as pkg/eventstore's limits are", want)
		}
	}
}
