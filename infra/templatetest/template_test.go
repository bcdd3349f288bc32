package templatetest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/streamhook/fastpix-receiver/internal/emulator"
)

// tmpl is template.yaml as goformation reads it, with every intrinsic
// function kept in its long form ({"Ref": "X"}, {"Fn::GetAtt": ["X",
// "Arn"]}, {"Fn::Sub": "…"}) rather than resolved or dropped, so the tests
// can see what each value refers to. Globals are not merged: tests read
// them where they are.
type tmpl map[string]any

var (
	loadOnce sync.Once
	loaded   tmpl
	loadErr  error
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := emulator.Root()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func load(t *testing.T) tmpl {
	t.Helper()
	loadOnce.Do(func() {
		root, err := emulator.Root()
		if err != nil {
			loadErr = err
			return
		}
		b, err := os.ReadFile(filepath.Join(root, "template.yaml"))
		if err != nil {
			loadErr = err
			return
		}
		keep := func(name string, input, _ any) any { return map[string]any{name: input} }
		overrides := map[string]intrinsics.IntrinsicHandler{}
		for _, fn := range []string{"Ref", "Fn::GetAtt", "Fn::Sub", "Fn::If", "Fn::Join", "Fn::Select",
			"Fn::Split", "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Fn::FindInMap", "Fn::Base64",
			"Fn::GetAZs", "Fn::ImportValue", "Fn::Cidr", "Fn::Transform"} {
			overrides[fn] = keep
		}
		js, err := intrinsics.ProcessYAML(b, &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: overrides})
		if err != nil {
			loadErr = fmt.Errorf("process template.yaml: %w", err)
			return
		}
		loadErr = json.Unmarshal(js, &loaded)
	})
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return loaded
}

func m(v any) map[string]any { x, _ := v.(map[string]any); return x }
func l(v any) []any {
	if x, ok := v.([]any); ok {
		return x
	}
	if v == nil {
		return nil
	}
	return []any{v} // CloudFormation accepts a single item where a list is expected
}
func s(v any) string { x, _ := v.(string); return x }

// path walks nested mappings.
func path(v any, keys ...string) any {
	if t, ok := v.(tmpl); ok {
		v = map[string]any(t)
	}
	for _, k := range keys {
		v = m(v)[k]
	}
	return v
}

func (t tmpl) resources() map[string]any { return m(t["Resources"]) }

func (t tmpl) resource(tb testing.TB, id string) map[string]any {
	tb.Helper()
	r := m(t.resources()[id])
	if r == nil {
		tb.Fatalf("template.yaml has no resource %s", id)
	}
	return r
}

func (t tmpl) props(tb testing.TB, id string) map[string]any {
	tb.Helper()
	return m(t.resource(tb, id)["Properties"])
}

func (t tmpl) typeOf(id string) string { return s(m(t.resources()[id])["Type"]) }

// ofType lists the logical ids of resources of type typ, sorted.
func (t tmpl) ofType(typ string) []string {
	var ids []string
	for id := range t.resources() {
		if t.typeOf(id) == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// target names what a value refers to: "X" for {Ref: X}, "X.Attr" for
// GetAtt, the text for a Sub or a plain string.
func target(v any) string {
	if x, ok := v.(string); ok {
		return x
	}
	mv := m(v)
	if r, ok := mv["Ref"].(string); ok {
		return r
	}
	if g, ok := mv["Fn::GetAtt"]; ok {
		if gs, ok := g.(string); ok {
			return gs
		}
		parts := l(g)
		if len(parts) == 2 {
			return s(parts[0]) + "." + s(parts[1])
		}
	}
	if sub, ok := mv["Fn::Sub"]; ok {
		if ss, ok := sub.(string); ok {
			return ss
		}
		return s(l(sub)[0])
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// refs lists the logical ids (or pseudo parameters) v refers to.
func refs(v any) []string {
	mv := m(v)
	if r, ok := mv["Ref"].(string); ok {
		return []string{r}
	}
	if _, ok := mv["Fn::GetAtt"]; ok {
		id, _, _ := strings.Cut(target(v), ".")
		return []string{id}
	}
	if _, ok := mv["Fn::Sub"]; ok {
		var out []string
		text := target(v)
		for {
			i := strings.Index(text, "${")
			if i < 0 {
				return out
			}
			j := strings.Index(text[i:], "}")
			if j < 0 {
				return out
			}
			name := text[i+2 : i+j]
			if !strings.HasPrefix(name, "!") {
				id, _, _ := strings.Cut(name, ".")
				out = append(out, id)
			}
			text = text[i+j+1:]
		}
	}
	return nil
}
