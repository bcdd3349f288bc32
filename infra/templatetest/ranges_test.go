package templatetest

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/streamhook/fastpix-receiver/internal/app/notifier"
	"github.com/streamhook/fastpix-receiver/internal/app/streams"
	"github.com/streamhook/fastpix-receiver/internal/app/webhook"
)

var placeholder = regexp.MustCompile(`\$\{([^}!]+)\}`)

// Every value a Number parameter's range lets an operator deploy is one the
// function reading it accepts: a MinValue or MaxValue wider than the code's
// check would pass CloudFormation and then stop every cold start.
func TestParameterRangesAreAcceptedByTheFunctions(t *testing.T) {
	tp := load(t)
	configFromEnv := map[string]func(func(string) string) error{
		"WebhookFunction":  func(g func(string) string) error { _, err := webhook.ConfigFromEnv(g); return err },
		"NotifierFunction": func(g func(string) string) error { _, err := notifier.ConfigFromEnv(g); return err },
		"StreamsFunction":  func(g func(string) string) error { _, err := streams.ConfigFromEnv(g); return err },
	}
	params := tp.ParameterDefaults()
	checked := 0
	for id, fromEnv := range configFromEnv {
		env, err := tp.Environment(id)
		if err != nil {
			t.Fatal(err)
		}
		resolve := func(override map[string]string) func(string) string {
			return func(name string) string {
				v, ok := env[name]
				if !ok {
					return ""
				}
				vars := map[string]string{}
				for k, d := range params {
					vars[k] = d
				}
				for k, o := range override {
					vars[k] = o
				}
				// Resources (and their attributes) stand in as ARNs.
				for _, m := range placeholder.FindAllStringSubmatch(v.Sub, -1) {
					if _, ok := vars[m[1]]; !ok {
						vars[m[1]] = "arn:aws:sns:us-east-1:123456789012:" + strings.ReplaceAll(m[1], ".", "-")
					}
				}
				text, err := v.Substitute(vars)
				if err != nil {
					t.Fatalf("%s %s: %v", id, name, err)
				}
				return text
			}
		}
		if err := fromEnv(resolve(nil)); err != nil {
			t.Errorf("%s with the parameters' defaults: %v", id, err)
		}
		for name, n := range env {
			param, ok := strings.CutPrefix(n.Sub, "${")
			if param, ok = strings.CutSuffix(param, "}"); !ok || strings.ContainsAny(param, "${}") {
				continue
			}
			p := tp.Parameter(param)
			if !p.Exists() || p.Get("Type").Text() != "Number" {
				continue
			}
			for _, bound := range []string{"MinValue", "MaxValue"} {
				v, ok := p.Get(bound).Number()
				if !ok {
					continue
				}
				checked++
				if err := fromEnv(resolve(map[string]string{param: fmt.Sprint(v)})); err != nil {
					t.Errorf("%s: %s at %s's %s %v is refused: %v", id, name, param, bound, v, err)
				}
			}
		}
	}
	if checked == 0 {
		t.Error("no parameter range checked")
	}
}
