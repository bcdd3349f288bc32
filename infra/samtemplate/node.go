package samtemplate

import (
	"encoding/json"
	"iter"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Node is one value of the template as written: a mapping, a list, a plain
// scalar or an intrinsic function call, in its short (!Ref X) or long
// ({Ref: X}) form. The zero Node stands for an absent value; every accessor
// accepts it, so a path through the template reads without checks at each
// step (Get("Environment", "Variables").Entries()).
type Node struct {
	n *yaml.Node
}

// Exists reports whether the value is present.
func (n Node) Exists() bool { return n.n != nil }

// IsMapping reports whether the value is a plain mapping (not an intrinsic
// function call).
func (n Node) IsMapping() bool {
	name, _ := n.Intrinsic()
	return n.n != nil && n.n.Kind == yaml.MappingNode && name == ""
}

// IsScalar reports whether the value is a plain scalar (not an intrinsic
// function call).
func (n Node) IsScalar() bool {
	name, _ := n.Intrinsic()
	return n.n != nil && n.n.Kind == yaml.ScalarNode && name == ""
}

// Get walks down nested mappings by key; a key that is not there gives the
// zero Node.
func (n Node) Get(keys ...string) Node {
	for _, k := range keys {
		if n.n == nil || n.n.Kind != yaml.MappingNode {
			return Node{}
		}
		next := Node{}
		for i := 0; i+1 < len(n.n.Content); i += 2 {
			if n.n.Content[i].Value == k {
				next = Node{n.n.Content[i+1]}
				break
			}
		}
		n = next
	}
	return n
}

// Entries yields a mapping's keys and values in the template's order
// (nothing for anything but a mapping).
func (n Node) Entries() iter.Seq2[string, Node] {
	return func(yield func(string, Node) bool) {
		if n.n == nil || n.n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.n.Content); i += 2 {
			if !yield(n.n.Content[i].Value, Node{n.n.Content[i+1]}) {
				return
			}
		}
	}
}

// Keys lists a mapping's keys in the template's order.
func (n Node) Keys() []string {
	var out []string
	for k := range n.Entries() {
		out = append(out, k)
	}
	return out
}

// Len is the number of a mapping's keys or of a list's items, else 0.
func (n Node) Len() int {
	if n.n == nil {
		return 0
	}
	switch n.n.Kind {
	case yaml.MappingNode:
		return len(n.n.Content) / 2
	case yaml.SequenceNode:
		return len(n.n.Content)
	}
	return 0
}

// List returns a plain list's items. CloudFormation accepts a single value
// where a list is expected, so any other present value is a list of one;
// an absent value is an empty list.
func (n Node) List() []Node {
	if n.n == nil {
		return nil
	}
	if name, _ := n.Intrinsic(); n.n.Kind != yaml.SequenceNode || name != "" {
		return []Node{n}
	}
	out := make([]Node, len(n.n.Content))
	for i, c := range n.n.Content {
		out[i] = Node{c}
	}
	return out
}

// Texts returns the Text of each item of List.
func (n Node) Texts() []string {
	var out []string
	for _, c := range n.List() {
		out = append(out, c.Text())
	}
	return out
}

// Text is a plain scalar's text; "" for a null, a mapping, a list or an
// intrinsic function call.
func (n Node) Text() string {
	if !n.IsScalar() || n.n.ShortTag() == "!!null" {
		return ""
	}
	return n.n.Value
}

// Bool reports whether the value is the YAML boolean true (not the string
// "true": CloudFormation properties typed boolean are written unquoted).
func (n Node) Bool() bool {
	if !n.IsScalar() || n.n.ShortTag() != "!!bool" {
		return false
	}
	b, err := strconv.ParseBool(n.n.Value)
	return err == nil && b
}

// Number returns a YAML number's value; ok is false for anything else,
// quoted numbers included.
func (n Node) Number() (v float64, ok bool) {
	if !n.IsScalar() || (n.n.ShortTag() != "!!int" && n.n.ShortTag() != "!!float") {
		return 0, false
	}
	if err := n.n.Decode(&v); err != nil {
		return 0, false
	}
	return v, true
}

// Intrinsic returns the intrinsic function the value calls, by its long
// name ("Ref", "Fn::GetAtt", "Fn::Sub", "Fn::If", "Fn::Equals", …), and its
// argument as a plain value; name is "" when the value is no such call.
func (n Node) Intrinsic() (name string, arg Node) {
	if n.n == nil {
		return "", Node{}
	}
	if tag := n.n.Tag; strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!") {
		plain := *n.n
		plain.Tag = ""
		plain.Style &^= yaml.TaggedStyle
		if tag == "!Ref" {
			return "Ref", Node{&plain}
		}
		return "Fn::" + tag[1:], Node{&plain}
	}
	if n.n.Kind == yaml.MappingNode && len(n.n.Content) == 2 {
		if k := n.n.Content[0].Value; k == "Ref" || strings.HasPrefix(k, "Fn::") {
			return k, Node{n.n.Content[1]}
		}
	}
	return "", Node{}
}

// Target names what a value refers to, as a reader of the template says it:
// "X" for !Ref X, "X.Attr" for !GetAtt X.Attr, the text of a !Sub (its
// ${…} references kept), a plain scalar's text; anything else (a mapping,
// a list, another intrinsic such as !If) as the JSON of its Decode.
func (n Node) Target() string {
	name, arg := n.Intrinsic()
	switch {
	case name == "" && n.IsScalar():
		return n.Text()
	case name == "Ref":
		return arg.Text()
	case name == "Fn::GetAtt" && getAtt(arg) != "":
		return getAtt(arg)
	case name == "Fn::Sub":
		return arg.List()[0].Text()
	case n.n == nil:
		return ""
	}
	b, _ := json.Marshal(n.Decode())
	return string(b)
}

// getAtt is "X.Attr" for the argument of a GetAtt, written "X.Attr" or
// [X, Attr]; "" for anything else.
func getAtt(arg Node) string {
	if arg.IsScalar() {
		return arg.Text()
	}
	if parts := arg.List(); arg.Len() == 2 {
		return parts[0].Text() + "." + parts[1].Text()
	}
	return ""
}

// Refs lists the logical ids (or pseudo parameters such as AWS::Region) a
// !Ref, !GetAtt or !Sub refers to; nil for anything else.
func (n Node) Refs() []string {
	switch name, _ := n.Intrinsic(); name {
	case "Ref":
		return []string{n.Target()}
	case "Fn::GetAtt":
		id, _, _ := strings.Cut(n.Target(), ".")
		return []string{id}
	case "Fn::Sub":
		var out []string
		for _, m := range subRef.FindAllStringSubmatch(n.Target(), -1) {
			if !strings.HasPrefix(m[1], "!") {
				id, _, _ := strings.Cut(m[1], ".")
				out = append(out, id)
			}
		}
		return out
	}
	return nil
}

// Decode returns the value as JSON would hold it (maps, lists, strings,
// numbers, booleans, nil), each intrinsic function call in its long form
// ({"Ref": "X"}, {"Fn::If": […]}).
func (n Node) Decode() any {
	if n.n == nil {
		return nil
	}
	if name, arg := n.Intrinsic(); name != "" {
		return map[string]any{name: arg.Decode()}
	}
	switch n.n.Kind {
	case yaml.MappingNode:
		out := map[string]any{}
		for k, v := range n.Entries() {
			out[k] = v.Decode()
		}
		return out
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.n.Content))
		for _, c := range n.List() {
			out = append(out, c.Decode())
		}
		return out
	case yaml.AliasNode:
		return Node{n.n.Alias}.Decode()
	}
	var v any
	_ = n.n.Decode(&v)
	return v
}

// String renders the value as the JSON of its Decode, for messages.
func (n Node) String() string {
	b, _ := json.Marshal(n.Decode())
	return string(b)
}

// Walk calls fn on the value and on every value inside it, depth first,
// with where the path from the value (".Properties.Policies[0]"; "" for
// the value itself). An intrinsic function call is entered through its
// long name (".DeletionProtectionEnabled.Fn::If[1]").
func (n Node) Walk(fn func(where string, v Node)) {
	var walk func(where string, v Node)
	walk = func(where string, v Node) {
		fn(where, v)
		if name, arg := v.Intrinsic(); name != "" {
			walk(where+"."+name, arg)
			return
		}
		if v.n == nil {
			return
		}
		switch v.n.Kind {
		case yaml.MappingNode:
			for k, c := range v.Entries() {
				walk(where+"."+k, c)
			}
		case yaml.SequenceNode:
			for i, c := range v.List() {
				walk(where+"["+strconv.Itoa(i)+"]", c)
			}
		}
	}
	walk("", n)
}
