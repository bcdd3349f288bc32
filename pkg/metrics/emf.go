// Package metrics writes CloudWatch metrics in the Embedded Metric Format:
// one JSON log line per observation, which CloudWatch Logs turns into
// metrics. No API call is made on the request path, so a metric can never
// slow or fail a delivery.
//
// Format: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
package metrics

import (
	"encoding/json"
	"io"
	"sort"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every metric of the product.
const Namespace = "FastPixReceiver"

// Units used here (a subset of CloudWatch's).
const (
	Count        = "Count"
	Milliseconds = "Milliseconds"
)

// Metric is one value.
type Metric struct {
	Name  string
	Unit  string
	Value float64
}

// Emitter writes EMF lines. It is safe for concurrent use.
type Emitter struct {
	// W receives the lines: os.Stdout in Lambda, where the log agent picks
	// them up.
	W io.Writer
	// Namespace defaults to Namespace.
	Namespace string
	// Function is the "Function" dimension every line carries.
	Function string
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu sync.Mutex
}

// Emit writes one line with metrics. Each metric is recorded twice: by
// Function alone, and (when dims is not empty) by Function and all of dims
// together, so a dashboard can show totals and a breakdown. Extra
// properties (neither dimensions nor metrics) can be searched in Logs
// Insights.
func (e *Emitter) Emit(dims map[string]string, props map[string]any, ms ...Metric) {
	if e == nil || e.W == nil || len(ms) == 0 {
		return
	}
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	ns := e.Namespace
	if ns == "" {
		ns = Namespace
	}
	line := make(map[string]any, len(dims)+len(props)+len(ms)+2)
	for k, v := range props {
		line[k] = v
	}
	dimNames := []string{"Function"}
	line["Function"] = e.Function
	for k, v := range dims {
		dimNames = append(dimNames, k)
		line[k] = v
	}
	sort.Strings(dimNames[1:])
	sets := [][]string{{"Function"}}
	if len(dimNames) > 1 {
		sets = append(sets, dimNames)
	}
	defs := make([]metricDef, 0, len(ms))
	for _, m := range ms {
		defs = append(defs, metricDef{Name: m.Name, Unit: m.Unit})
		line[m.Name] = m.Value
	}
	line["_aws"] = awsMeta{
		Timestamp: now().UnixMilli(),
		CloudWatchMetrics: []directive{{
			Namespace:  ns,
			Dimensions: sets,
			Metrics:    defs,
		}},
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	b = append(b, '\n')
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.W.Write(b)
}

type awsMeta struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

type directive struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []metricDef `json:"Metrics"`
}

type metricDef struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}
