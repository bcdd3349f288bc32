package metrics

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestEmitWritesOneLineCloudWatchReads(t *testing.T) {
	var buf bytes.Buffer
	e := &Emitter{W: &buf, Function: "notifier", Now: func() time.Time { return time.UnixMilli(1764168000123) }}
	e.Emit(map[string]string{"Topic": "Live"}, map[string]any{"outcome": "published"},
		Metric{Name: "Published", Unit: Count, Value: 1}, Metric{Name: "AlertDelay", Unit: Milliseconds, Value: 12.5})
	if strings.Count(buf.String(), "\n") != 1 {
		t.Fatalf("want one line: %q", buf.String())
	}
	l, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if l.Namespace != Namespace || l.Timestamp != 1764168000123 {
		t.Errorf("namespace %q, timestamp %d", l.Namespace, l.Timestamp)
	}
	// Totals by Function, and the breakdown by Function and Topic.
	if len(l.Dimensions) != 2 || strings.Join(l.Dimensions[0], ",") != "Function" || strings.Join(l.Dimensions[1], ",") != "Function,Topic" {
		t.Errorf("dimensions %v", l.Dimensions)
	}
	if strings.Join(l.Names(), ",") != "Published,AlertDelay" || l.Metrics[1].Value != 12.5 || l.Metrics[1].Unit != Milliseconds {
		t.Errorf("metrics %+v", l.Metrics)
	}
	if l.Root["Function"] != "notifier" || l.Root["Topic"] != "Live" || l.Root["outcome"] != "published" {
		t.Errorf("root %v", l.Root)
	}
}

func TestEmitNothing(t *testing.T) {
	var buf bytes.Buffer
	(&Emitter{W: &buf}).Emit(nil, nil)
	var nilEmitter *Emitter
	nilEmitter.Emit(nil, nil, Metric{Name: "X", Unit: Count, Value: 1})
	if buf.Len() != 0 {
		t.Errorf("wrote %q", buf.String())
	}
}

// Parse refuses what CloudWatch would keep as a plain log line, so the
// functions' metric tests cannot pass on a line that makes no metric.
func TestParseRefusesWhatCloudWatchDrops(t *testing.T) {
	const ts = `"Timestamp":1764168000123`
	for name, line := range map[string]string{
		"not JSON":             `{`,
		"no directive":         `{"X":1}`,
		"seconds, not ms":      `{"_aws":{"Timestamp":1764168000,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["F"]],"Metrics":[{"Name":"X","Unit":"Count"}]}]},"F":"f","X":1}`,
		"no namespace":         `{"_aws":{` + ts + `,"CloudWatchMetrics":[{"Namespace":"","Dimensions":[["F"]],"Metrics":[{"Name":"X","Unit":"Count"}]}]},"F":"f","X":1}`,
		"dimension not string": `{"_aws":{` + ts + `,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["F"]],"Metrics":[{"Name":"X","Unit":"Count"}]}]},"F":3,"X":1}`,
		"metric not a number":  `{"_aws":{` + ts + `,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["F"]],"Metrics":[{"Name":"X","Unit":"Count"}]}]},"F":"f","X":"1"}`,
		"unknown unit":         `{"_aws":{` + ts + `,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["F"]],"Metrics":[{"Name":"X","Unit":"Furlongs"}]}]},"F":"f","X":1}`,
		"empty dimension set":  `{"_aws":{` + ts + `,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"X","Unit":"Count"}]}]},"X":1}`,
	} {
		if _, err := Parse([]byte(line)); !errors.Is(err, ErrNotEMF) {
			t.Errorf("%s: Parse = %v, want ErrNotEMF", name, err)
		}
	}
}

func TestParseIsOneLine(t *testing.T) {
	var buf bytes.Buffer
	e := &Emitter{W: &buf, Function: "f"}
	e.Emit(nil, nil, Metric{Name: "X", Unit: Count, Value: 1})
	e.Emit(nil, nil, Metric{Name: "X", Unit: Count, Value: 1})
	if _, err := Parse(buf.Bytes()); !errors.Is(err, ErrNotEMF) {
		t.Errorf("two lines parsed as one: %v", err)
	}
}
