package filterpolicy_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/streamhook/fastpix-receiver/pkg/filterpolicy"
)

func str(v string) filterpolicy.Attribute { return filterpolicy.Attribute{Type: "String", Value: v} }
func num(v string) filterpolicy.Attribute { return filterpolicy.Attribute{Type: "Number", Value: v} }
func arr(v string) filterpolicy.Attribute {
	return filterpolicy.Attribute{Type: "String.Array", Value: v}
}

type attrs = map[string]filterpolicy.Attribute

func TestMatch(t *testing.T) {
	alert := attrs{"workspaceId": str("ws-league"), "streamId": str("st-1"), "kind": str("disconnected")}
	cases := []struct {
		name   string
		policy string
		attrs  attrs
		want   bool
	}{
		{"empty policy passes everything", `{}`, alert, true},
		{"exact", `{"workspaceId":["ws-league"]}`, alert, true},
		{"exact is case-sensitive", `{"workspaceId":["WS-LEAGUE"]}`, alert, false},
		{"OR within a key", `{"kind":["live","disconnected"]}`, alert, true},
		{"OR within a key, none", `{"kind":["live","recovered"]}`, alert, false},
		{"AND across keys", `{"workspaceId":["ws-league"],"kind":["disconnected"]}`, alert, true},
		{"AND across keys, one fails", `{"workspaceId":["ws-league"],"kind":["live"]}`, alert, false},
		{"absent attribute fails an exact key", `{"simulcastId":["t-1"]}`, alert, false},
		{"attributes not in the policy are ignored", `{"streamId":["st-1"]}`, alert, true},
		{"prefix", `{"workspaceId":[{"prefix":"ws-"}]}`, alert, true},
		{"prefix, no", `{"workspaceId":[{"prefix":"wx-"}]}`, alert, false},
		{"suffix", `{"workspaceId":[{"suffix":"league"}]}`, alert, true},
		{"equals-ignore-case", `{"workspaceId":[{"equals-ignore-case":"WS-League"}]}`, alert, true},
		{"anything-but a value", `{"kind":[{"anything-but":"live"}]}`, alert, true},
		{"anything-but the value", `{"kind":[{"anything-but":"disconnected"}]}`, alert, false},
		{"anything-but a list", `{"kind":[{"anything-but":["live","disconnected"]}]}`, alert, false},
		{"anything-but a prefix", `{"workspaceId":[{"anything-but":{"prefix":"ws-"}}]}`, alert, false},
		{"anything-but needs the attribute", `{"test":[{"anything-but":"true"}]}`, alert, false},
		{"anything-but or exists false", `{"test":[{"anything-but":"true"},{"exists":false}]}`, alert, true},
		{"exists true", `{"streamId":[{"exists":true}]}`, alert, true},
		{"exists true, absent", `{"simulcastId":[{"exists":true}]}`, alert, false},
		{"exists false, absent", `{"simulcastId":[{"exists":false}]}`, alert, true},
		{"exists false, present", `{"streamId":[{"exists":false}]}`, alert, false},
		{"exact or prefix", `{"streamId":["st-9",{"prefix":"st-"}]}`, alert, true},
		{"numeric range", `{"drops":[{"numeric":[">=",3,"<",10]}]}`, attrs{"drops": num("3")}, true},
		{"numeric range, out", `{"drops":[{"numeric":[">=",3,"<",10]}]}`, attrs{"drops": num("10")}, false},
		{"numeric equal a decimal", `{"drops":[{"numeric":["=",3]}]}`, attrs{"drops": num("3.0")}, true},
		{"exact number", `{"drops":[3]}`, attrs{"drops": num("3")}, true},
		{"a number does not match a String attribute", `{"drops":[{"numeric":[">",1]}]}`, attrs{"drops": str("3")}, false},
		{"a string does not match a Number attribute", `{"drops":["3"]}`, attrs{"drops": num("3")}, false},
		{"anything-but a number", `{"drops":[{"anything-but":[3]}]}`, attrs{"drops": num("4")}, true},
		{"String.Array: any element", `{"kind":["live"]}`, attrs{"kind": arr(`["recovered","live"]`)}, true},
		{"String.Array: none", `{"kind":["live"]}`, attrs{"kind": arr(`["recovered"]`)}, false},
		{"String.Array: anything-but none listed", `{"kind":[{"anything-but":"live"}]}`, attrs{"kind": arr(`["recovered","unstable"]`)}, true},
		{"String.Array: anything-but one listed", `{"kind":[{"anything-but":"live"}]}`, attrs{"kind": arr(`["recovered","live"]`)}, false},
		{"String.Array not JSON", `{"kind":["live"]}`, attrs{"kind": arr(`live`)}, false},
		{"Binary is ignored", `{"blob":[{"exists":false}]}`, attrs{"blob": {Type: "Binary", Value: "AA=="}}, true},
		{"null never matches", `{"kind":[null]}`, alert, false},
		{"markup in a value is a value", `{"workspaceId":["<b>ws</b>"]}`, attrs{"workspaceId": str("<b>ws</b>")}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := filterpolicy.Parse(c.policy)
			if err != nil {
				t.Fatalf("Parse(%s): %v", c.policy, err)
			}
			if got := p.Match(c.attrs); got != c.want {
				t.Errorf("Match(%s, %v) = %v, want %v", c.policy, c.attrs, got, c.want)
			}
		})
	}
}

func TestNilPolicyMatchesEverything(t *testing.T) {
	var p *filterpolicy.Policy
	if !p.Match(nil) {
		t.Fatal("a subscription without a policy must receive every message")
	}
}

func values(n int) string {
	vs := make([]string, n)
	for i := range vs {
		vs[i] = fmt.Sprintf("%q", fmt.Sprint("v", i))
	}
	return "[" + strings.Join(vs, ",") + "]"
}

func TestParseRefuses(t *testing.T) {
	huge := `{"a":["` + strings.Repeat("x", filterpolicy.MaxBytes) + `"]}`
	cases := []struct {
		name   string
		policy string
		want   error
	}{
		{"not JSON", `{"a":`, filterpolicy.ErrInvalid},
		{"not an object", `["a"]`, filterpolicy.ErrInvalid},
		{"null", `null`, filterpolicy.ErrInvalid},
		{"two documents", `{} {}`, filterpolicy.ErrInvalid},
		{"value not a list", `{"a":"x"}`, filterpolicy.ErrInvalid},
		{"nested policy", `{"a":{"b":["x"]}}`, filterpolicy.ErrInvalid},
		{"empty list", `{"a":[]}`, filterpolicy.ErrInvalid},
		{"list in a list", `{"a":[["x"]]}`, filterpolicy.ErrInvalid},
		{"unknown operator", `{"a":[{"regex":".*"}]}`, filterpolicy.ErrInvalid},
		{"two operators in one object", `{"a":[{"prefix":"x","suffix":"y"}]}`, filterpolicy.ErrInvalid},
		{"prefix of a number", `{"a":[{"prefix":1}]}`, filterpolicy.ErrInvalid},
		{"exists of a string", `{"a":[{"exists":"yes"}]}`, filterpolicy.ErrInvalid},
		{"numeric bad op", `{"a":[{"numeric":["!=",1]}]}`, filterpolicy.ErrInvalid},
		{"numeric odd", `{"a":[{"numeric":[">",1,"<"]}]}`, filterpolicy.ErrInvalid},
		{"numeric upside-down range", `{"a":[{"numeric":[">",10,"<",1]}]}`, filterpolicy.ErrInvalid},
		{"numeric out of range", `{"a":[{"numeric":[">",1e10]}]}`, filterpolicy.ErrInvalid},
		{"anything-but empty", `{"a":[{"anything-but":[]}]}`, filterpolicy.ErrInvalid},
		{"anything-but exists", `{"a":[{"anything-but":{"exists":true}}]}`, filterpolicy.ErrInvalid},
		{"six keys", `{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}`, filterpolicy.ErrTooManyKeys},
		{"151 combinations", `{"a":` + values(151) + `}`, filterpolicy.ErrTooManyCombinations},
		{"combinations multiply across keys", `{"a":` + values(10) + `,"b":` + values(16) + `}`, filterpolicy.ErrTooManyCombinations},
		{"over 256 KB", huge, filterpolicy.ErrTooLarge},
		{"$or", `{"$or":[{"a":["x"]},{"b":["y"]}]}`, filterpolicy.ErrUnsupported},
		{"cidr", `{"ip":[{"cidr":"10.0.0.0/24"}]}`, filterpolicy.ErrUnsupported},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := filterpolicy.Parse(c.policy)
			if !errors.Is(err, c.want) {
				t.Fatalf("Parse = %v, want %v", err, c.want)
			}
		})
	}
}

func TestLimitsAreInclusive(t *testing.T) {
	for _, policy := range []string{
		`{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"]}`, // five keys
		`{"a":` + values(150) + `}`,                           // 150 combinations
		`{"a":` + values(10) + `,"b":` + values(15) + `}`,     // 10×15
	} {
		p, err := filterpolicy.Parse(policy)
		if err != nil {
			t.Fatalf("Parse(%.60s…): %v", policy, err)
		}
		if p.Combinations() > filterpolicy.MaxCombinations {
			t.Fatalf("combinations %d", p.Combinations())
		}
	}
	p, _ := filterpolicy.Parse(`{"a":` + values(10) + `,"b":` + values(15) + `}`)
	if p.Combinations() != 150 {
		t.Fatalf("Combinations = %d, want 150", p.Combinations())
	}
}

func TestCanonical(t *testing.T) {
	a, err := filterpolicy.Canonical(`{"kind":["live","disconnected","live"],"workspaceId":["ws-1"]}`)
	if err != nil {
		t.Fatal(err)
	}
	b, err := filterpolicy.Canonical(`{ "workspaceId": ["ws-1"], "kind": ["disconnected", "live"] }`)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatalf("same selection, different canonical texts:\n%s\n%s", a, b)
	}
	c, _ := filterpolicy.Canonical(`{"kind":["live"],"workspaceId":["ws-1"]}`)
	if c == a {
		t.Fatal("different selections share a canonical text")
	}
}

func TestExacts(t *testing.T) {
	text := filterpolicy.Exacts(map[string][]string{"kind": {"live", "disconnected", "live"}, "streamId": nil, "workspaceId": {"ws-1"}})
	if text != `{"kind":["disconnected","live"],"workspaceId":["ws-1"]}` {
		t.Fatalf("Exacts = %s", text)
	}
	p, err := filterpolicy.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := p.Exact("kind"); !ok || strings.Join(got, ",") != "disconnected,live" {
		t.Fatalf("Exact(kind) = %v %v", got, ok)
	}
	if _, ok := p.Exact("streamId"); ok {
		t.Fatal("Exact of an absent key")
	}
	q, _ := filterpolicy.Parse(`{"kind":[{"prefix":"l"}]}`)
	if _, ok := q.Exact("kind"); ok {
		t.Fatal("Exact of an operator key")
	}
}

func BenchmarkMatch(b *testing.B) {
	p, err := filterpolicy.Parse(`{"workspaceId":["ws-1","ws-2","ws-3"],"kind":["live","disconnected"],"streamId":[{"prefix":"st-"}]}`)
	if err != nil {
		b.Fatal(err)
	}
	a := attrs{"workspaceId": str("ws-3"), "kind": str("disconnected"), "streamId": str("st-42"), "test": str("false")}
	for b.Loop() {
		if !p.Match(a) {
			b.Fatal("no match")
		}
	}
}
