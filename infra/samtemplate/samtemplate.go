// Package samtemplate reads the project's template.yaml, the one source of
// truth for the system's resources, so that the local stack, the tests'
// tables and the template's contract test all read the same declaration
// rather than declaring it a second time.
//
// It is the only reader of template.yaml. The template is kept as written
// (a YAML tree, see Node), intrinsic functions included: !Ref, !GetAtt,
// !Sub, !If and conditions stay readable, so a test can check what a value
// refers to (the exact resource an IAM statement grants on) and the local
// stack can resolve it against its own emulators (Value.Substitute).
// Conditional resources are kept, whatever their condition.
package samtemplate

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"gopkg.in/yaml.v3"

	"github.com/streamhook/fastpix-receiver/internal/repo"
)

// ErrNoResource: the template declares no resource by that logical id.
var ErrNoResource = errors.New("samtemplate: no such resource")

// Template is template.yaml, parsed once.
type Template struct {
	doc Node // the top-level mapping
}

// Path is template.yaml at the repository root.
func Path() (string, error) { return repo.Path("template.yaml") }

// Load parses the template at path.
func Load(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	t, err := parse(b)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: %s: %w", path, err)
	}
	return t, nil
}

// Parse parses template text.
func Parse(text []byte) (*Template, error) {
	t, err := parse(text)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	return t, nil
}

func parse(text []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not a YAML mapping")
	}
	t := &Template{doc: Node{doc.Content[0]}}
	if !t.Section("Resources").IsMapping() {
		return nil, errors.New("no Resources")
	}
	return t, nil
}

// LoadDefault parses the repository's template.yaml.
func LoadDefault() (*Template, error) {
	path, err := Path()
	if err != nil {
		return nil, err
	}
	return Load(path)
}

// Section returns a top-level section: "Parameters", "Conditions",
// "Globals", "Resources" or "Outputs" (absent: the zero Node).
func (t *Template) Section(name string) Node { return t.doc.Get(name) }

// Globals returns the Globals settings of a kind of resource, e.g.
// "Function" or "HttpApi".
func (t *Template) Globals(kind string) Node { return t.doc.Get("Globals", kind) }

// Parameter returns the parameter's declaration (Type, Default, …).
func (t *Template) Parameter(name string) Node { return t.doc.Get("Parameters", name) }

// ParameterDefaults returns each parameter's default value (the value a
// deployment without overrides has), for Value.Substitute.
func (t *Template) ParameterDefaults() map[string]string {
	out := map[string]string{}
	for name, p := range t.Section("Parameters").Entries() {
		if d := p.Get("Default"); d.IsScalar() {
			out[name] = d.n.Value
		}
	}
	return out
}

// Resource is one entry of the template's Resources: the whole mapping
// (Type, Properties, Condition, Metadata, DeletionPolicy, …).
type Resource struct {
	ID string // the logical id
	Node
}

// Type is the resource's type, e.g. "AWS::SNS::Topic".
func (r Resource) Type() string { return r.Get("Type").Text() }

// Properties is the resource's Properties mapping.
func (r Resource) Properties() Node { return r.Get("Properties") }

// Condition is the name of the condition the resource exists under, or "".
func (r Resource) Condition() string { return r.Get("Condition").Text() }

// Resource returns the resource logicalID, or an error wrapping
// ErrNoResource.
func (t *Template) Resource(logicalID string) (Resource, error) {
	n := t.Section("Resources").Get(logicalID)
	if !n.Exists() {
		return Resource{}, fmt.Errorf("%w: %s", ErrNoResource, logicalID)
	}
	return Resource{ID: logicalID, Node: n}, nil
}

// HasResource reports whether the template declares logicalID.
func (t *Template) HasResource(logicalID string) bool {
	return t.Section("Resources").Get(logicalID).Exists()
}

// TypeOf returns the type of resource logicalID, or "" when there is none.
func (t *Template) TypeOf(logicalID string) string {
	return t.Section("Resources").Get(logicalID, "Type").Text()
}

// Resources lists every resource, sorted by logical id.
func (t *Template) Resources() []Resource {
	var out []Resource
	for id, n := range t.Section("Resources").Entries() {
		out = append(out, Resource{ID: id, Node: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ResourcesOfType lists the logical ids of the resources of type typ
// (e.g. "AWS::SNS::Topic"), sorted.
func (t *Template) ResourcesOfType(typ string) []string {
	var ids []string
	for _, r := range t.Resources() {
		if r.Type() == typ {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// ofType returns resource logicalID, checking that it is of type typ.
func (t *Template) ofType(logicalID, typ string) (Resource, error) {
	r, err := t.Resource(logicalID)
	if err != nil {
		return r, err
	}
	if got := r.Type(); got != typ {
		return r, fmt.Errorf("samtemplate: %s is a %s, not a %s", logicalID, got, typ)
	}
	return r, nil
}
