package templatetest

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/streamhook/fastpix-receiver/infra/samtemplate"
	"github.com/streamhook/fastpix-receiver/internal/app/notifier"
	"github.com/streamhook/fastpix-receiver/internal/app/webhook"
	"github.com/streamhook/fastpix-receiver/pkg/metrics"
)

// emitted maps each metric name the functions declare to the function that
// emits it: the constants of internal/app/webhook/metrics.go are the
// webhook's, those of internal/app/notifier/metrics.go the notifier's. Read
// from the source, so a new constant is known here without editing this
// test.
func emitted(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, function := range []string{"webhook", "notifier"} {
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(repoRoot(t), "internal", "app", function, "metrics.go"), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, v := range vs.Values {
					// Exported constants are metric names; the unexported
					// ones (failure kinds) are not.
					if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING && vs.Names[i].IsExported() {
						name, _ := strconv.Unquote(lit.Value)
						out[name] = function
					}
				}
			}
		}
	}
	if out[webhook.Received] != "webhook" || out[notifier.PublishFailures] != "notifier" {
		t.Fatalf("metric constants not found: %v", out)
	}
	return out
}

// The Function dimension the alarms and dashboard filter on is the one the
// functions' constructors (internal/app) set.
func TestMetricsFunctionDimension(t *testing.T) {
	for _, fn := range []string{"webhook", "notifier"} {
		b := readRepoFile(t, "internal", "app", fn, fn+".go")
		if !strings.Contains(string(b), `metrics.Emitter{W: metricsOut, Function: "`+fn+`"}`) {
			t.Errorf("internal/app/%s/%s.go does not emit metrics with Function %q", fn, fn, fn)
		}
	}
}

var subRef = regexp.MustCompile(`\$\{([^}!]+)\}`)

// dashboardBody is what the tests read of a CloudWatch dashboard body: each
// widget's metric rows, a row being either [{"expression": …}] or
// [namespace, metric, dimension, value, …, {options}].
type dashboardBody struct {
	Widgets []struct {
		Type       string `json:"type"`
		Properties struct {
			Metrics [][]any `json:"metrics"`
			Query   string  `json:"query"`
		} `json:"properties"`
	} `json:"widgets"`
}

// dashboard returns the dashboard's body as JSON (every ${…} replaced by
// the name it refers to) and the references.
func dashboard(t *testing.T, tp *samtemplate.Template) (dashboardBody, []string) {
	t.Helper()
	ids := tp.ResourcesOfType("AWS::CloudWatch::Dashboard")
	if len(ids) != 1 {
		t.Fatalf("dashboards: %v, want one", ids)
	}
	body := props(t, tp, ids[0]).Get("DashboardBody").Target()
	var names []string
	for _, m := range subRef.FindAllStringSubmatch(body, -1) {
		names = append(names, m[1])
	}
	var d dashboardBody
	if err := json.Unmarshal([]byte(subRef.ReplaceAllString(body, "$1")), &d); err != nil {
		t.Fatalf("DashboardBody is not JSON: %v", err)
	}
	return d, names
}

var searchMetric = regexp.MustCompile(`MetricName="([^"]+)"`)

func TestDashboard(t *testing.T) {
	tp := load(t)
	known := emitted(t)
	d, names := dashboard(t, tp)
	for _, n := range names {
		id, _, _ := strings.Cut(n, ".")
		if !strings.HasPrefix(id, "AWS::") && tp.TypeOf(id) == "" {
			t.Errorf("dashboard refers to ${%s}: no such resource", n)
		}
	}
	type ref struct{ namespace, metric, dimension, value string }
	seen := map[ref]bool{}
	searched := map[string]bool{}
	for _, w := range d.Widgets {
		for _, items := range w.Properties.Metrics {
			first, _ := items[0].(map[string]any)
			if expr, _ := first["expression"].(string); expr != "" {
				for _, mm := range searchMetric.FindAllStringSubmatch(expr, -1) {
					searched[mm[1]] = true
					if _, ok := known[mm[1]]; !ok {
						t.Errorf("dashboard searches %s, not a metric the functions declare", mm[1])
					}
				}
				continue
			}
			var strs []string
			for _, it := range items {
				if x, ok := it.(string); ok {
					strs = append(strs, x)
				}
			}
			if len(strs) < 4 {
				t.Errorf("metric row %v lacks a dimension", items)
				continue
			}
			r := ref{strs[0], strs[1], strs[2], strs[3]}
			seen[r] = true
			if r.namespace == metrics.Namespace {
				if fn, ok := known[r.metric]; !ok {
					t.Errorf("dashboard shows %s, not a metric the functions declare", r.metric)
				} else if r.dimension != "Function" || r.value != fn {
					t.Errorf("dashboard shows %s by %s=%s; it is emitted by Function=%s", r.metric, r.dimension, r.value, fn)
				}
			}
		}
	}
	// What the operator must see: events by type, duplicate and signature
	// failure rates, alert delay, errors, DLQ depth, iterator age.
	byType := false
	for _, w := range d.Widgets {
		byType = byType || (w.Type == "log" && strings.Contains(w.Properties.Query, "by bin(1m), type") && strings.Contains(w.Properties.Query, "-webhook'"))
	}
	if !byType || !searched[notifier.Published] {
		t.Error("no events-by-type (Logs Insights) or alerts-by-topic graph")
	}
	for _, w := range []ref{
		{metrics.Namespace, webhook.Duplicates, "Function", "webhook"},
		{metrics.Namespace, webhook.SignatureFailures, "Function", "webhook"},
		{metrics.Namespace, notifier.AlertDelay, "Function", "notifier"},
		{metrics.Namespace, webhook.StorageErrors, "Function", "webhook"},
		{metrics.Namespace, notifier.PublishFailures, "Function", "notifier"},
		{metrics.Namespace, notifier.BatchFailures, "Function", "notifier"},
		{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "NotifierDeadLetterQueue.QueueName"},
		{"AWS/Lambda", "IteratorAge", "FunctionName", "NotifierFunction"},
	} {
		if !seen[w] {
			t.Errorf("dashboard has no graph of %s %s by %s %s", w.namespace, w.metric, w.dimension, w.value)
		}
	}
}

func TestMonitoringAlarms(t *testing.T) {
	tp := load(t)
	known := emitted(t)
	ours := map[string]string{} // metric → alarm id
	for _, id := range tp.ResourcesOfType("AWS::CloudWatch::Alarm") {
		p := props(t, tp, id)
		check := func(ns, metric string, dims []samtemplate.Node) {
			if ns != metrics.Namespace {
				return
			}
			fn, ok := known[metric]
			if !ok {
				t.Errorf("%s watches %s, not a metric the functions declare", id, metric)
			}
			if len(dims) != 1 || dims[0].Get("Name").Text() != "Function" || dims[0].Get("Value").Target() != fn {
				t.Errorf("%s watches %s by %v; it is emitted by Function=%s", id, metric, dims, fn)
			}
			ours[metric] = id
		}
		check(p.Get("Namespace").Text(), p.Get("MetricName").Text(), p.Get("Dimensions").List())
		for _, q := range p.Get("Metrics").List() {
			mt := q.Get("MetricStat", "Metric")
			check(mt.Get("Namespace").Text(), mt.Get("MetricName").Text(), mt.Get("Dimensions").List())
		}
	}
	for _, metric := range []string{webhook.SignatureFailures, webhook.StorageErrors, notifier.PublishFailures,
		notifier.UnprocessableRecords, webhook.BadSecrets, webhook.Received, notifier.StreamsWentLive, notifier.StreamsDisconnected} {
		if ours[metric] == "" {
			t.Errorf("no alarm on %s", metric)
		}
	}
	for _, metric := range []string{webhook.SignatureFailures, webhook.StorageErrors, notifier.PublishFailures,
		notifier.UnprocessableRecords, webhook.BadSecrets} {
		if id := ours[metric]; id != "" && !notifies(props(t, tp, id)) {
			t.Errorf("%s does not notify OperationsTopic", id)
		}
	}

	// The silence alarm: "no Received for SilenceMinutes" AND "streams are
	// live", paging the operations topic through the composite only.
	silent, live := ours[webhook.Received], ours[notifier.StreamsWentLive]
	composites := tp.ResourcesOfType("AWS::CloudWatch::CompositeAlarm")
	found := false
	for _, id := range composites {
		p := props(t, tp, id)
		rule := p.Get("AlarmRule").Refs()
		if !slices.Contains(rule, silent) || !slices.Contains(rule, live) {
			continue
		}
		found = true
		if !strings.Contains(p.Get("AlarmRule").Target(), " AND ") {
			t.Errorf("%s: rule %q must require both", id, p.Get("AlarmRule").Target())
		}
		if !notifies(p) {
			t.Errorf("%s does not notify OperationsTopic", id)
		}
	}
	if !found {
		t.Fatalf("no composite alarm combines %q and %q", silent, live)
	}
	for _, id := range []string{silent, live} {
		if len(props(t, tp, id).Get("AlarmActions").List()) != 0 {
			t.Errorf("%s pages on its own; it only feeds the composite alarm", id)
		}
	}
	sp := props(t, tp, silent)
	if period, _ := sp.Get("Period").Number(); sp.Get("EvaluationPeriods").Target() != "SilenceMinutes" || sp.Get("DatapointsToAlarm").Target() != "SilenceMinutes" ||
		period != 60 || sp.Get("TreatMissingData").Text() != "breaching" || sp.Get("ComparisonOperator").Text() != "LessThanThreshold" {
		t.Errorf("%s must breach after SilenceMinutes minutes of no events (missing data is silence): %v", silent, sp)
	}
	if !tp.Parameter("SilenceMinutes").Exists() {
		t.Error("no SilenceMinutes parameter")
	}
}
