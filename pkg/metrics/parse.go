package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNotEMF: a line is not a valid Embedded Metric Format line; CloudWatch
// would keep it as a log line and make no metric of it.
var ErrNotEMF = errors.New("metrics: not an EMF line")

// Line is one EMF line as CloudWatch reads it: what its first directive
// declares, with the values of the root object.
type Line struct {
	Timestamp  int64 // milliseconds since the epoch
	Namespace  string
	Dimensions [][]string
	// Metrics are the directive's metrics with their values.
	Metrics []Metric
	// Root is the whole object: dimensions' values and properties too.
	Root map[string]any
}

// Parse reads one line and checks it against the specification's rules
// CloudWatch enforces: a millisecond timestamp, a directive with a
// namespace and 1 to 100 metrics, 1 to 30 dimensions per set, every
// dimension a string member of the root, every metric a number member,
// units from the ones used here. The functions' tests read what they
// emitted through it, so a line CloudWatch would drop fails a test.
func Parse(line []byte) (Line, error) {
	var raw struct {
		AWS *awsMeta `json:"_aws"`
	}
	var root map[string]any
	if err := json.Unmarshal(line, &raw); err != nil {
		return Line{}, fmt.Errorf("%w: %w", ErrNotEMF, err)
	}
	if err := json.Unmarshal(line, &root); err != nil {
		return Line{}, fmt.Errorf("%w: %w", ErrNotEMF, err)
	}
	if raw.AWS == nil || len(raw.AWS.CloudWatchMetrics) == 0 {
		return Line{}, fmt.Errorf("%w: no CloudWatchMetrics directive", ErrNotEMF)
	}
	if raw.AWS.Timestamp < 1e12 {
		return Line{}, fmt.Errorf("%w: timestamp %d is not in milliseconds", ErrNotEMF, raw.AWS.Timestamp)
	}
	for _, d := range raw.AWS.CloudWatchMetrics {
		if d.Namespace == "" || len(d.Metrics) == 0 || len(d.Metrics) > 100 {
			return Line{}, fmt.Errorf("%w: directive with namespace %q and %d metrics", ErrNotEMF, d.Namespace, len(d.Metrics))
		}
		for _, set := range d.Dimensions {
			if len(set) == 0 || len(set) > 30 {
				return Line{}, fmt.Errorf("%w: dimension set %v", ErrNotEMF, set)
			}
			for _, name := range set {
				if _, ok := root[name].(string); !ok {
					return Line{}, fmt.Errorf("%w: dimension %s is not a string member of the root", ErrNotEMF, name)
				}
			}
		}
		for _, m := range d.Metrics {
			if _, ok := root[m.Name].(float64); !ok {
				return Line{}, fmt.Errorf("%w: metric %s has no numeric value", ErrNotEMF, m.Name)
			}
			if m.Unit != Count && m.Unit != Milliseconds {
				return Line{}, fmt.Errorf("%w: metric %s in unit %q", ErrNotEMF, m.Name, m.Unit)
			}
		}
	}
	d := raw.AWS.CloudWatchMetrics[0]
	l := Line{Timestamp: raw.AWS.Timestamp, Namespace: d.Namespace, Dimensions: d.Dimensions, Root: root}
	for _, m := range d.Metrics {
		l.Metrics = append(l.Metrics, Metric{Name: m.Name, Unit: m.Unit, Value: root[m.Name].(float64)})
	}
	return l, nil
}

// Names are the names of l's metrics, in order.
func (l Line) Names() []string {
	names := make([]string, len(l.Metrics))
	for i, m := range l.Metrics {
		names[i] = m.Name
	}
	return names
}
