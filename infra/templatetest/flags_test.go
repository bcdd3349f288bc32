package templatetest

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every fastpixctl command line the README and the docs show (`make ctl
// ARGS='…'`, the operations guide's list, "fastpixctl <command> …") uses
// only flags that command has: the docs copy the flags to explain them,
// and this keeps the copy true. The flags are what the built command says
// under -h.
func TestDocsShowOnlyFlagsTheCommandsHave(t *testing.T) {
	if testing.Short() {
		t.Skip("builds fastpixctl")
	}
	root := repoRoot(t)
	bin := filepath.Join(t.TempDir(), "fastpixctl")
	build := exec.Command("go", "build", "-o", bin, "./infra/cmd/fastpixctl")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build fastpixctl: %v\n%s", err, out)
	}
	flagsOf := map[string]map[string]bool{}
	flags := func(command string) map[string]bool {
		if f, ok := flagsOf[command]; ok {
			return f
		}
		out, _ := exec.Command(bin, append(strings.Fields(command), "-h")...).CombinedOutput() // -h exits 2
		f := map[string]bool{}
		for _, m := range regexp.MustCompile(`(?m)^\s+-([a-z][a-z0-9-]*)`).FindAllStringSubmatch(string(out), -1) {
			f[m[1]] = true
		}
		if len(f) == 0 && !strings.Contains(string(out), "Usage") {
			t.Fatalf("fastpixctl %s -h printed no flags and no usage:\n%s", command, out)
		}
		flagsOf[command] = f
		return f
	}

	// The commands are main.go's cases, as TestReadmeIsHonest reads them.
	usage := string(readRepoFile(t, "infra/cmd/fastpixctl/main.go"))
	docs := []string{filepath.Join(root, "README.md")}
	more, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	docs = append(docs, more...)
	lines := regexp.MustCompile("ARGS=['\"]([^'\"]*)['\"]|(?m)^- `([a-z][a-z-]+ [^`]*)`|`fastpixctl ([a-z][a-z-]+[^`]*)`")
	flag := regexp.MustCompile(`(?:^|[\s\[|])-([a-z][a-z0-9-]*)`)
	checked := 0
	for _, doc := range docs {
		name, _ := filepath.Rel(root, doc)
		text := readRepoFile(t, name)
		for _, m := range lines.FindAllStringSubmatch(string(text), -1) {
			line := m[1] + m[2] + m[3]
			words := strings.Fields(line)
			if len(words) == 0 || !strings.Contains(usage, "case \""+words[0]+"\":") {
				continue
			}
			command := words[0]
			if command == "rotate-secret" {
				if len(words) < 2 || strings.HasPrefix(words[1], "-") {
					continue
				}
				command += " " + strings.Trim(words[1], "|")
			}
			for _, f := range flag.FindAllStringSubmatch(strings.Join(words[1:], " "), -1) {
				checked++
				if !flags(command)[f[1]] {
					t.Errorf("%s shows `fastpixctl %s … -%s`, a flag %s does not have", name, command, f[1], command)
				}
			}
		}
	}
	t.Logf("%d flags shown in the docs, each one its command's", checked)
	if checked < 20 {
		t.Errorf("checked %d flags in the docs; the operations guide alone shows more: is the pattern still right?", checked)
	}
}
