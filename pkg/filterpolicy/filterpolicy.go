// Package filterpolicy reads, checks and applies Amazon SNS subscription
// filter policies of the MessageAttributes scope, the scope this project's
// subscriptions use.
//
// It exists twice over: the operator tool checks a policy against SNS's
// limits before it creates anything (so a refusal comes from us, with what
// to change, and SNS is left as it was), and the local stack delivers each
// alert only to the subscriptions whose policy matches, as SNS would (the
// goaws emulator applies policies only to SQS subscriptions, and only exact
// string matches).
//
// Semantics, after the SNS developer guide ("Amazon SNS subscription filter
// policies", "String value matching", "Numeric value matching", "Attribute
// key matching", "Filter policy constraints"): a message matches when every
// key of the policy matches (AND across keys); a key matches when any of its
// values matches the attribute of that name (OR within a key). A value is an
// exact string or number, or one of the operators prefix, suffix,
// equals-ignore-case, anything-but (a value, a list, or a prefix or suffix),
// exists, numeric. An absent attribute matches only {"exists": false}.
// Binary attributes are ignored (as if absent). For a String.Array
// attribute, a key matches when any element matches; anything-but matches
// when no element is listed.
//
// Not supported (refused with ErrUnsupported, never silently widened): the
// "$or" key, "cidr" matching, and the MessageBody scope's nested policies.
package filterpolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// SNS's limits on filter policies ("Filter policy constraints in Amazon
// SNS", and the SNS service quotas).
const (
	// MaxKeys is the most keys (attribute names) one policy may have.
	MaxKeys = 5
	// MaxCombinations bounds the product of the numbers of values of the
	// policy's keys.
	MaxCombinations = 150
	// MaxBytes is the largest policy text SNS accepts (256 KB).
	MaxBytes = 256 * 1024
	// MaxPerTopic is the default quota of filter policies on one topic.
	MaxPerTopic = 200
	// MaxPerAccount is the default quota of filter policies in one account
	// and region.
	MaxPerAccount = 10000
	// maxNumber bounds numeric values: SNS compares numbers from -1e9 to 1e9.
	maxNumber = 1e9
)

// Errors of Parse, for callers to branch on with errors.Is. Each is wrapped
// with what is wrong and what to change.
var (
	// ErrInvalid: the text is not a filter policy (not a JSON object of
	// arrays, an unknown operator, a bad operand).
	ErrInvalid = errors.New("filterpolicy: invalid policy")
	// ErrTooManyKeys: more than MaxKeys keys.
	ErrTooManyKeys = errors.New("filterpolicy: too many keys")
	// ErrTooManyCombinations: more than MaxCombinations value combinations.
	ErrTooManyCombinations = errors.New("filterpolicy: too many value combinations")
	// ErrTooLarge: the text is over MaxBytes.
	ErrTooLarge = errors.New("filterpolicy: policy too large")
	// ErrUnsupported: valid for SNS, but not implemented here.
	ErrUnsupported = errors.New("filterpolicy: unsupported")
)

// Attribute is one message attribute as SNS carries it: Type is String,
// String.Array, Number or Binary.
type Attribute struct {
	Type  string
	Value string
}

// Policy is a parsed filter policy.
type Policy struct {
	keys []key // sorted by name
}

type key struct {
	name  string
	conds []cond
}

type condKind int

const (
	exactString condKind = iota
	exactNumber
	never // null, true, false: valid JSON SNS accepts, which no attribute equals
	prefix
	suffix
	ignoreCase
	anythingBut
	anythingButPrefix
	anythingButSuffix
	exists
	numeric
)

type cond struct {
	kind    condKind
	s       string
	n       float64
	strs    []string  // anythingBut: the strings listed
	nums    []float64 // anythingBut: the numbers listed
	exists  bool
	numeric []numOp
}

type numOp struct {
	op string
	n  float64
}

// Parse reads a policy and checks it against SNS's rules and limits.
func Parse(text string) (*Policy, error) {
	if len(text) > MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, SNS accepts at most %d", ErrTooLarge, len(text), MaxBytes)
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: want a JSON object of attribute name to a list of values: %v", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: text after the policy's object", ErrInvalid)
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: want a JSON object, not null", ErrInvalid)
	}
	if len(raw) > MaxKeys {
		return nil, fmt.Errorf("%w: %d keys, SNS allows at most %d: select by fewer attributes", ErrTooManyKeys, len(raw), MaxKeys)
	}
	p := &Policy{}
	combinations := 1
	for name, v := range raw {
		if name == "$or" {
			return nil, fmt.Errorf("%w: the \"$or\" key: write one subscription per alternative", ErrUnsupported)
		}
		if name == "" {
			return nil, fmt.Errorf("%w: an empty attribute name", ErrInvalid)
		}
		var values []json.RawMessage
		if err := json.Unmarshal(v, &values); err != nil || values == nil {
			return nil, fmt.Errorf("%w: %q: want a list of values (nested policies are for the MessageBody scope)", ErrInvalid, name)
		}
		if len(values) == 0 {
			return nil, fmt.Errorf("%w: %q: an empty list matches nothing", ErrInvalid, name)
		}
		k := key{name: name}
		for _, rv := range values {
			c, err := parseValue(rv)
			if err != nil {
				return nil, fmt.Errorf("%q: %w", name, err)
			}
			k.conds = append(k.conds, c)
		}
		combinations *= len(values)
		if combinations > MaxCombinations {
			return nil, fmt.Errorf("%w: more than %d (the product of each key's number of values): list fewer streams or kinds, or split the subscription", ErrTooManyCombinations, MaxCombinations)
		}
		p.keys = append(p.keys, k)
	}
	sort.Slice(p.keys, func(i, j int) bool { return p.keys[i].name < p.keys[j].name })
	return p, nil
}

func decode(rv json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(rv))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func number(n json.Number) (float64, error) {
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.Abs(f) > maxNumber {
		return 0, fmt.Errorf("%w: number %s: SNS compares numbers from -1e9 to 1e9", ErrInvalid, n)
	}
	return f, nil
}

func parseValue(rv json.RawMessage) (cond, error) {
	v, err := decode(rv)
	if err != nil {
		return cond{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	switch v := v.(type) {
	case string:
		return cond{kind: exactString, s: v}, nil
	case json.Number:
		n, err := number(v)
		return cond{kind: exactNumber, n: n}, err
	case nil, bool:
		return cond{kind: never}, nil
	case []any:
		return cond{}, fmt.Errorf("%w: a list inside a list", ErrInvalid)
	case map[string]any:
		if len(v) != 1 {
			return cond{}, fmt.Errorf("%w: an operator object has exactly one operator, got %d", ErrInvalid, len(v))
		}
		for op, arg := range v {
			return parseOperator(op, arg)
		}
	}
	return cond{}, fmt.Errorf("%w: unexpected value %s", ErrInvalid, rv)
}

func parseOperator(op string, arg any) (cond, error) {
	str := func() (string, error) {
		s, ok := arg.(string)
		if !ok {
			return "", fmt.Errorf("%w: %q takes a string", ErrInvalid, op)
		}
		return s, nil
	}
	switch op {
	case "prefix", "suffix", "equals-ignore-case":
		s, err := str()
		if err != nil {
			return cond{}, err
		}
		kind := map[string]condKind{"prefix": prefix, "suffix": suffix, "equals-ignore-case": ignoreCase}[op]
		return cond{kind: kind, s: s}, nil
	case "exists":
		b, ok := arg.(bool)
		if !ok {
			return cond{}, fmt.Errorf("%w: \"exists\" takes true or false", ErrInvalid)
		}
		return cond{kind: exists, exists: b}, nil
	case "anything-but":
		return parseAnythingBut(arg)
	case "numeric":
		return parseNumeric(arg)
	case "cidr":
		return cond{}, fmt.Errorf("%w: \"cidr\" matching", ErrUnsupported)
	}
	return cond{}, fmt.Errorf("%w: unknown operator %q (prefix, suffix, equals-ignore-case, anything-but, exists, numeric)", ErrInvalid, op)
}

func parseAnythingBut(arg any) (cond, error) {
	c := cond{kind: anythingBut}
	add := func(v any) error {
		switch v := v.(type) {
		case string:
			c.strs = append(c.strs, v)
		case json.Number:
			n, err := number(v)
			if err != nil {
				return err
			}
			c.nums = append(c.nums, n)
		default:
			return fmt.Errorf("%w: \"anything-but\" takes a string, a number, a list of them, or a prefix or suffix", ErrInvalid)
		}
		return nil
	}
	switch a := arg.(type) {
	case []any:
		if len(a) == 0 {
			return c, fmt.Errorf("%w: \"anything-but\" with an empty list", ErrInvalid)
		}
		for _, v := range a {
			if err := add(v); err != nil {
				return c, err
			}
		}
	case map[string]any:
		if len(a) != 1 {
			return c, fmt.Errorf("%w: \"anything-but\" takes one prefix or suffix", ErrInvalid)
		}
		for op, v := range a {
			s, ok := v.(string)
			switch {
			case !ok || s == "":
				return c, fmt.Errorf("%w: \"anything-but\" %q takes a non-empty string", ErrInvalid, op)
			case op == "prefix":
				return cond{kind: anythingButPrefix, s: s}, nil
			case op == "suffix":
				return cond{kind: anythingButSuffix, s: s}, nil
			}
			return c, fmt.Errorf("%w: \"anything-but\" with %q (prefix or suffix)", ErrInvalid, op)
		}
	default:
		if err := add(a); err != nil {
			return c, err
		}
	}
	return c, nil
}

func parseNumeric(arg any) (cond, error) {
	list, ok := arg.([]any)
	bad := fmt.Errorf("%w: \"numeric\" takes [op, n] or [op, n, op, n] with op one of = < <= > >=", ErrInvalid)
	if !ok || (len(list) != 2 && len(list) != 4) {
		return cond{}, bad
	}
	c := cond{kind: numeric}
	for i := 0; i < len(list); i += 2 {
		op, ok1 := list[i].(string)
		n, ok2 := list[i+1].(json.Number)
		if !ok1 || !ok2 || !slices.Contains([]string{"=", "<", "<=", ">", ">="}, op) {
			return cond{}, bad
		}
		f, err := number(n)
		if err != nil {
			return cond{}, err
		}
		c.numeric = append(c.numeric, numOp{op, f})
	}
	if len(c.numeric) == 2 {
		lo, hi := c.numeric[0], c.numeric[1]
		if (lo.op != ">" && lo.op != ">=") || (hi.op != "<" && hi.op != "<=") || lo.n > hi.n {
			return cond{}, fmt.Errorf("%w: a numeric range is [\">\" or \">=\", low, \"<\" or \"<=\", high] with low <= high", ErrInvalid)
		}
	}
	return c, nil
}

// Keys are the attribute names the policy selects on, sorted.
func (p *Policy) Keys() []string {
	names := make([]string, len(p.keys))
	for i, k := range p.keys {
		names[i] = k.name
	}
	return names
}

// Combinations is the product of the numbers of values of the keys: what
// SNS bounds by MaxCombinations.
func (p *Policy) Combinations() int {
	n := 1
	for _, k := range p.keys {
		n *= len(k.conds)
	}
	return n
}

// Exact returns the exact string values of key and true when every value
// of key is one; false otherwise (operators, or no such key). A listing
// reads a policy made of exact values as a plain "who gets what".
func (p *Policy) Exact(name string) ([]string, bool) {
	for _, k := range p.keys {
		if k.name != name {
			continue
		}
		out := make([]string, 0, len(k.conds))
		for _, c := range k.conds {
			if c.kind != exactString {
				return nil, false
			}
			out = append(out, c.s)
		}
		return out, true
	}
	return nil, false
}

// Match reports whether a message with these attributes passes the policy.
// A nil policy (no filter) passes everything.
func (p *Policy) Match(attrs map[string]Attribute) bool {
	if p == nil {
		return true
	}
	for _, k := range p.keys {
		a, present := attrs[k.name]
		if present && a.Type == "Binary" {
			present = false
		}
		vals, ok := elements(a, present)
		if !ok {
			return false
		}
		if !slices.ContainsFunc(k.conds, func(c cond) bool { return c.match(vals, present, a.Type == "String.Array") }) {
			return false
		}
	}
	return true
}

// elements are an attribute's values: one for String and Number, the
// elements of a String.Array. An array that is not JSON matches nothing.
func elements(a Attribute, present bool) ([]any, bool) {
	if !present {
		return nil, true
	}
	switch {
	case a.Type == "String" || strings.HasPrefix(a.Type, "String."):
		if a.Type == "String.Array" {
			v, err := decode(json.RawMessage(a.Value))
			list, ok := v.([]any)
			return list, err == nil && ok
		}
		return []any{a.Value}, true
	case a.Type == "Number" || strings.HasPrefix(a.Type, "Number."):
		return []any{json.Number(a.Value)}, true
	}
	return nil, false
}

func asNumber(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

func (c cond) match(vals []any, present, array bool) bool {
	if c.kind == exists {
		return present == c.exists
	}
	if !present {
		return false
	}
	if c.kind == anythingBut || c.kind == anythingButPrefix || c.kind == anythingButSuffix {
		// Every element must avoid the list (none listed).
		for _, v := range vals {
			if c.excludes(v) {
				return false
			}
		}
		return len(vals) > 0 || array
	}
	return slices.ContainsFunc(vals, c.matchOne)
}

// excludes reports whether anything-but lists v.
func (c cond) excludes(v any) bool {
	s, isStr := v.(string)
	switch c.kind {
	case anythingButPrefix:
		return isStr && strings.HasPrefix(s, c.s)
	case anythingButSuffix:
		return isStr && strings.HasSuffix(s, c.s)
	}
	if isStr && slices.Contains(c.strs, s) {
		return true
	}
	if n, ok := asNumber(v); ok && slices.Contains(c.nums, n) {
		return true
	}
	return false
}

func (c cond) matchOne(v any) bool {
	s, isStr := v.(string)
	switch c.kind {
	case exactString:
		return isStr && s == c.s
	case prefix:
		return isStr && strings.HasPrefix(s, c.s)
	case suffix:
		return isStr && strings.HasSuffix(s, c.s)
	case ignoreCase:
		return isStr && strings.EqualFold(s, c.s)
	case exactNumber:
		n, ok := asNumber(v)
		return ok && n == c.n
	case numeric:
		n, ok := asNumber(v)
		if !ok {
			return false
		}
		for _, o := range c.numeric {
			if !compare(n, o) {
				return false
			}
		}
		return true
	}
	return false
}

func compare(n float64, o numOp) bool {
	switch o.op {
	case "=":
		return n == o.n
	case "<":
		return n < o.n
	case "<=":
		return n <= o.n
	case ">":
		return n > o.n
	case ">=":
		return n >= o.n
	}
	return false
}

// Canonical is a policy's text with its keys sorted and each key's values
// sorted and without repeats: two policies that select the same way by the
// same values have the same canonical text, which is how a duplicate
// subscription is recognised.
func Canonical(text string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var raw map[string][]any
	if err := dec.Decode(&raw); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	for name, vals := range raw {
		enc := make([]string, 0, len(vals))
		for _, v := range vals {
			b, err := json.Marshal(v)
			if err != nil {
				return "", fmt.Errorf("%w: %v", ErrInvalid, err)
			}
			enc = append(enc, string(b))
		}
		sort.Strings(enc)
		enc = slices.Compact(enc)
		out := make([]any, len(enc))
		for i, e := range enc {
			out[i] = json.RawMessage(e)
		}
		raw[name] = out
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return string(b), nil
}

// Exacts builds a policy text of exact string values: each key with at
// least one value becomes a key matching any of its values (sorted, without
// repeats); keys without values are left out.
func Exacts(keys map[string][]string) string {
	m := make(map[string][]string, len(keys))
	for k, vs := range keys {
		if len(vs) == 0 {
			continue
		}
		vs = slices.Clone(vs)
		sort.Strings(vs)
		m[k] = slices.Compact(vs)
	}
	b, _ := json.Marshal(m) // strings always marshal
	return string(b)
}
