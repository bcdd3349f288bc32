package awslocal

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// ErrUnsupportedFilter: a FilterCriteria pattern uses an operator this
// stand-in does not implement; the local stack refuses to start rather than
// deliver records the deployed mapping would not.
var ErrUnsupportedFilter = errors.New("awslocal: unsupported filter pattern")

// Filter is an event source mapping's FilterCriteria: a record is delivered
// when any pattern matches it, or always when there is no pattern. Patterns
// are matched against the record as Lambda sees it (the JSON of
// events.DynamoDBEventRecord: eventName, dynamodb.NewImage.type.S, …).
type Filter struct {
	patterns []map[string]any
}

// NewFilter parses the patterns (JSON text). It supports what DynamoDB
// stream filters are written with: lists of literal values, and the prefix,
// exists and anything-but operators.
func NewFilter(patterns []string) (*Filter, error) {
	f := &Filter{}
	for _, p := range patterns {
		var m map[string]any
		if err := json.Unmarshal([]byte(p), &m); err != nil {
			return nil, fmt.Errorf("awslocal: filter pattern %s: %w", p, err)
		}
		if err := check(m); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrUnsupportedFilter, p, err)
		}
		f.patterns = append(f.patterns, m)
	}
	return f, nil
}

func check(pattern map[string]any) error {
	for k, v := range pattern {
		switch v := v.(type) {
		case map[string]any:
			if err := check(v); err != nil {
				return err
			}
		case []any:
			for _, alt := range v {
				op, ok := alt.(map[string]any)
				if !ok {
					continue
				}
				for name := range op {
					switch name {
					case "prefix", "exists", "anything-but":
					default:
						return fmt.Errorf("operator %q of %q", name, k)
					}
				}
			}
		default:
			return fmt.Errorf("%q must be a list or an object", k)
		}
	}
	return nil
}

// Match reports whether the record passes the filter.
func (f *Filter) Match(rec events.DynamoDBEventRecord) bool {
	if f == nil || len(f.patterns) == 0 {
		return true
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return false
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return false
	}
	for _, p := range f.patterns {
		if matchObject(p, doc) {
			return true
		}
	}
	return false
}

func matchObject(pattern, doc map[string]any) bool {
	for k, want := range pattern {
		got, present := doc[k]
		switch want := want.(type) {
		case map[string]any:
			sub, ok := got.(map[string]any)
			if !present {
				// Absent: only {"exists": false} below can match.
				sub, ok = map[string]any{}, true
			}
			if !ok || !matchObject(want, sub) {
				return false
			}
		case []any:
			if !matchAny(want, got, present) {
				return false
			}
		}
	}
	return true
}

func matchAny(alts []any, got any, present bool) bool {
	for _, alt := range alts {
		if op, ok := alt.(map[string]any); ok {
			if matchOp(op, got, present) {
				return true
			}
			continue
		}
		if present && equal(alt, got) {
			return true
		}
	}
	return false
}

func matchOp(op map[string]any, got any, present bool) bool {
	for name, arg := range op {
		switch name {
		case "exists":
			want, _ := arg.(bool)
			return present == want
		case "prefix":
			s, ok := got.(string)
			p, _ := arg.(string)
			return present && ok && strings.HasPrefix(s, p)
		case "anything-but":
			if !present {
				return false
			}
			if list, ok := arg.([]any); ok {
				for _, v := range list {
					if equal(v, got) {
						return false
					}
				}
				return true
			}
			return !equal(arg, got)
		}
	}
	return false
}

func equal(a, b any) bool {
	ab, err1 := json.Marshal(a)
	bb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ab) == string(bb)
}
