package samtemplate

import (
	"bytes"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// readForGoformation returns the template at path without the Condition
// attribute of its resources and outputs.
//
// goformation, asked to evaluate conditions, replaces a resource that has a
// Condition attribute by the condition's value (true or false) and then
// fails to parse it. The template needs such resources (the alert
// subscriptions exist only when an address is given), and the code reading
// it through goformation wants the tables, which are unconditional; so the
// conditional resources are kept, as if their conditions held.
func readForGoformation(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("samtemplate: parse %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return b, nil
	}
	root := doc.Content[0]
	stripped := false
	for _, section := range []string{"Resources", "Outputs"} {
		m := get(root, section)
		if m == nil || m.Kind != yaml.MappingNode {
			continue
		}
		for i := 1; i < len(m.Content); i += 2 {
			if dropKey(m.Content[i], "Condition") {
				stripped = true
			}
		}
	}
	if !stripped {
		return b, nil
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("samtemplate: re-encode %s: %w", path, err)
	}
	return out.Bytes(), nil
}

// dropKey removes key from mapping m and reports whether it was there.
func dropKey(m *yaml.Node, key string) bool {
	if m == nil || m.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return true
		}
	}
	return false
}
