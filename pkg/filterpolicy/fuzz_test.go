package filterpolicy_test

import (
	"errors"
	"testing"

	"github.com/streamhook/fastpix-receiver/pkg/filterpolicy"
)

// Whatever text a hostile operator or a corrupted emulator hands over,
// Parse either refuses it with one of the package's errors or returns a
// policy within SNS's limits, which matches any attributes without
// panicking, and whose canonical text parses to the same keys.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"kind":["live","disconnected"],"workspaceId":["ws-1"]}`,
		`{"a":[{"prefix":"x"},{"anything-but":{"suffix":"y"}},{"exists":false}]}`,
		`{"n":[{"numeric":[">=",0,"<",10]},3,null,true]}`, `{"$or":[]}`, `{"a":[[]]}`, `{"a":{"b":["c"]}}`, `[`, `null`,
	} {
		f.Add(seed, "kind", "String", "live")
	}
	f.Add(`{"k":["a"]}`, "k", "String.Array", `["a","b"]`)
	f.Add(`{"k":[{"numeric":["=",1]}]}`, "k", "Number", "1e3")
	f.Fuzz(func(t *testing.T, text, name, typ, value string) {
		p, err := filterpolicy.Parse(text)
		if err != nil {
			for _, known := range []error{filterpolicy.ErrInvalid, filterpolicy.ErrTooManyKeys, filterpolicy.ErrTooManyCombinations, filterpolicy.ErrTooLarge, filterpolicy.ErrUnsupported} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("Parse(%q) = %v: not one of the package's errors", text, err)
		}
		if len(p.Keys()) > filterpolicy.MaxKeys || p.Combinations() > filterpolicy.MaxCombinations {
			t.Fatalf("accepted %q over the limits: %d keys, %d combinations", text, len(p.Keys()), p.Combinations())
		}
		p.Match(map[string]filterpolicy.Attribute{name: {Type: typ, Value: value}})
		p.Match(nil)
		c, err := filterpolicy.Canonical(text)
		if err != nil {
			t.Fatalf("Canonical of an accepted policy %q: %v", text, err)
		}
		q, err := filterpolicy.Parse(c)
		if err != nil || len(q.Keys()) != len(p.Keys()) {
			t.Fatalf("canonical %q of %q: %v", c, text, err)
		}
	})
}
