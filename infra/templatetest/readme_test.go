package templatetest

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/streamhook/fastpix-receiver/internal/repo"
)

// The README is the front door: every make target and fastpixctl command
// it shows exists, every relative link (its own and the docs') resolves,
// and it stays short enough to read in five minutes.
func TestReadmeIsHonest(t *testing.T) {
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	readme := string(readRepoFile(t, "README.md"))
	if len(readme) > 15*1024 {
		t.Errorf("README.md is %d bytes: the front door stays under 15 KB (the depth goes to docs/)", len(readme))
	}

	makefile := string(readRepoFile(t, "Makefile"))
	targets := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([a-zA-Z][a-zA-Z0-9_-]*):`).FindAllStringSubmatch(makefile, -1) {
		targets[m[1]] = true
	}
	usage := string(readRepoFile(t, "infra/cmd/fastpixctl/main.go"))
	docs := map[string]string{"README.md": readme, "BENCHMARKS.md": string(readRepoFile(t, "BENCHMARKS.md"))}
	paths, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		docs["docs/"+filepath.Base(p)] = string(b)
	}
	if len(docs) < 5 {
		t.Fatalf("only %d documents: the README's links point into docs/", len(docs))
	}
	for name, text := range docs {
		for _, m := range regexp.MustCompile("(?:^|[\\s`(])make ([a-z][a-zA-Z0-9-]*)\\b[^<]").FindAllStringSubmatch(text, -1) {
			if !targets[m[1]] && !slices.Contains([]string{"sure", "it", "the", "one"}, m[1]) {
				t.Errorf("%s shows `make %s`, which the Makefile does not have", name, m[1])
			}
		}
		for _, m := range regexp.MustCompile(`ARGS=['"]?([a-z][a-z-]*)`).FindAllStringSubmatch(text, -1) {
			if !strings.Contains(usage, "case \""+m[1]+"\":") {
				t.Errorf("%s shows fastpixctl %s, which fastpixctl does not have", name, m[1])
			}
		}
		for _, m := range regexp.MustCompile(`\]\(([^)#:]+)(#[^)]*)?\)`).FindAllStringSubmatch(text, -1) {
			target := filepath.Join(root, filepath.Dir(name), m[1])
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s links to %s, which does not exist", name, m[1])
			}
		}
	}
}
