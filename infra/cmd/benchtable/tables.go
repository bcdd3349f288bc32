package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Result is one line of `go test -bench` output: the benchmark's name
// without "Benchmark" and the -GOMAXPROCS suffix (Webhook/1KB, Burst), its
// iterations, and each value by its unit (ns/op, allocs/op, p50-alert-ms…).
type Result struct {
	Name    string
	N       int
	Metrics map[string]float64
}

// Run is what one `go test -bench` invocation printed: its results in order
// and the header lines (goos, goarch, cpu).
type Run struct {
	Header  map[string]string
	Results []Result
}

// Machine is where and when the tables were made: the line above each table.
type Machine struct {
	Cores     int
	GoVersion string
	Load      string // one-minute load average, "" if unknown
	At        time.Time
}

var (
	resultLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+(\d+)\s+(.*)$`)
	headerLine = regexp.MustCompile(`^(goos|goarch|cpu|pkg): (.*)$`)
)

// Read parses go test -bench output from r, copying every line to echo (the
// run stays visible as it goes), and returns its results. A line that is not
// a result or a header is passed through and otherwise ignored.
func Read(r io.Reader, echo io.Writer) (Run, error) {
	run := Run{Header: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		text := sc.Text()
		if echo != nil {
			fmt.Fprintln(echo, text)
		}
		if m := headerLine.FindStringSubmatch(text); m != nil {
			run.Header[m[1]] = strings.TrimSpace(m[2])
			continue
		}
		m := resultLine.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		n, err := strconv.Atoi(m[2])
		if err != nil {
			continue
		}
		res := Result{Name: m[1], N: n, Metrics: map[string]float64{}}
		f := strings.Fields(m[3])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			res.Metrics[f[i+1]] = v
		}
		run.Results = append(run.Results, res)
	}
	if err := sc.Err(); err != nil {
		return run, fmt.Errorf("reading the benchmark output: %w", err)
	}
	return run, nil
}

// named is the results whose name is name or starts with name + "/".
func (r Run) named(name string) []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Name == name || strings.HasPrefix(res.Name, name+"/") {
			out = append(out, res)
		}
	}
	return out
}

// Tables is every table the run has results for, each under the name of
// BENCHMARKS.md's section it belongs in and a line with the command, the
// date and the machine; "" when it has none.
func (r Run) Tables(cmd string, m Machine) string {
	var b strings.Builder
	for _, t := range []struct {
		section string
		table   func(Run) string
	}{
		{"The webhook's own work per event, beside the floor", webhookTable},
		{"End to end through the local HTTP API, beside the floor", e2eTable},
		{"Kickoff burst", burstTable},
		{"The live board with 2,000 streams × 5 targets", boardTable},
	} {
		table := t.table(r)
		if table == "" {
			continue
		}
		fmt.Fprintf(&b, "BENCHMARKS.md, %q:\n\n%s\n\n%s\n", t.section, r.machineLine(cmd, m), table)
	}
	return b.String()
}

// machineLine is the line above a table: `cmd`, when, on what.
func (r Run) machineLine(cmd string, m Machine) string {
	var parts []string
	if cmd != "" {
		parts = append(parts, "`"+cmd+"`")
	}
	parts = append(parts, m.At.UTC().Format("2006-01-02 15:04 UTC"))
	where := fmt.Sprintf("%d cores", m.Cores)
	if cpu := r.Header["cpu"]; cpu != "" {
		where += " (" + cpu + ")"
	}
	line := strings.Join(parts, ", ") + ": " + where
	if m.GoVersion != "" {
		line += ", " + m.GoVersion
		if r.Header["goos"] != "" {
			line += " " + r.Header["goos"] + "/" + r.Header["goarch"]
		}
	}
	if m.Load != "" {
		line += ", load average " + m.Load + " after the run"
	}
	return line + "."
}

// dur writes a figure in milliseconds with the precision it can carry.
func dur(ms float64) string {
	switch {
	case ms >= 1000:
		return fmt.Sprintf("%.2f s", ms/1000)
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f ms", ms)
	case ms >= 1:
		return fmt.Sprintf("%.2f ms", ms)
	default:
		return fmt.Sprintf("%.3f ms", ms)
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	return s[len(s)/2]
}

// webhookTable: make bench's medians of Webhook, Floor and Stage per size.
func webhookTable(r Run) string {
	ns := map[string][]float64{}
	allocs := map[string]float64{}
	for _, res := range r.Results {
		if v, ok := res.Metrics["ns/op"]; ok {
			ns[res.Name] = append(ns[res.Name], v)
		}
		if v, ok := res.Metrics["allocs/op"]; ok {
			allocs[res.Name] = v
		}
	}
	var b strings.Builder
	for _, size := range []struct{ key, label string }{{"1KB", "1 KB `active` with credentials"}, {"10KB", "10 KB (simulcast targets)"}} {
		hook, floor := median(ns["Webhook/"+size.key]), median(ns["Floor/"+size.key])
		if hook == 0 || floor == 0 {
			continue
		}
		stage := func(s string) float64 { return median(ns["Stage/"+s+"/"+size.key]) / 1000 }
		fmt.Fprintf(&b, "| %s | %.1f µs | %.1f µs | **%.1fx** | %.0f | %.1f, %.1f, %.1f, %.1f µs |\n",
			size.label, hook/1000, floor/1000, hook/floor, allocs["Webhook/"+size.key],
			stage("verify"), stage("parse"), stage("redact"), stage("store-item"))
	}
	if b.Len() == 0 {
		return ""
	}
	return "| event | webhook | floor | **ratio** | webhook allocs | its stages: verify, parse, redact, item |\n" +
		"| --- | ---: | ---: | ---: | ---: | --- |\n" + b.String()
}

// e2eTable: make bench-e2e's series, one row each: end to end beside
// the floor (a bare net/http handler making the same conditional PutItem)
// and beside the bare PutItem.
func e2eTable(r Run) string {
	var b strings.Builder
	for _, res := range r.named("EndToEnd") {
		label := strings.TrimPrefix(res.Name, "EndToEnd/")
		switch label {
		case "poller-off":
			label = "notifier off"
		case "poller-on-fleet":
			label = "notifier on, 500 streams"
		case "poller-on-one-stream":
			label = "notifier on, one stream"
		}
		v := res.Metrics
		fmt.Fprintf(&b, "| %s (%d pairs) | %s | %s | **%.2fx** | %s | %.2fx | %s, %s | %s, %s | %+.3f ms (%s, %s) |\n",
			label, res.N, dur(v["p50-e2e-ms"]), dur(v["p50-floor-ms"]), v["p50-ratio"], dur(v["p50-put-ms"]), v["p50-put-ratio"],
			dur(v["p99-e2e-ms"]), dur(v["mean-e2e-ms"]), dur(v["p99-floor-ms"]), dur(v["mean-floor-ms"]),
			v["p50-added-ms"], dur(v["p50-hop-ms"]), dur(v["p50-handler-ms"]))
	}
	if b.Len() == 0 {
		return ""
	}
	return "| | end to end p50 | floor p50 | **p50 ratio** | bare PutItem p50 | ratio to it | end to end p99, mean | floor p99, mean | added to the floor at p50 (hop + gateway, handler) |\n" +
		"| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n" + b.String()
}

// runColumns is a table with one column per run of the benchmark: rows
// label a figure, each run fills its cell.
func runColumns(runs []Result, rows []row) string {
	if len(runs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("| |")
	sep := "| --- |"
	for i := range runs {
		fmt.Fprintf(&b, " run %d |", i+1)
		sep += " ---: |"
	}
	b.WriteString("\n" + sep + "\n")
	for _, row := range rows {
		b.WriteString("| " + row.label + " |")
		for _, res := range runs {
			b.WriteString(" " + row.cell(res.Metrics) + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// row is a figure of a per-run table: its label, and its cell from a
// run's metrics.
type row struct {
	label string
	cell  func(map[string]float64) string
}

// burstTable: make bench-burst, one column per run.
func burstTable(r Run) string {
	return runColumns(r.named("Burst"), []row{
		{"webhook", func(v map[string]float64) string {
			return fmt.Sprintf("%.0f accepted in %.2f s: %.0f deliveries/s; latency p50 %s, p99 %s",
				v["accepted"], v["send-s"], v["deliveries/s"], dur(v["p50-delivery-ms"]), dur(v["p99-delivery-ms"]))
		}},
		{"alerts", func(v map[string]float64) string {
			return fmt.Sprintf("%.0f of %.0f alerted events, %.0f extra, %.0f missing",
				v["alerts"], v["alerted-events"], v["alerts-extra"], v["alerts-missing"])
		}},
		{"delay from a delivery's 200 to its alert", func(v map[string]float64) string {
			return fmt.Sprintf("p50 %s, p99 %s, max %s", dur(v["p50-alert-ms"]), dur(v["p99-alert-ms"]), dur(v["max-alert-ms"]))
		}},
		{"**last delivery → last alert**", func(v map[string]float64) string {
			return "**" + dur(v["last-alert-after-last-delivery-ms"]) + "**"
		}},
		{"notifier", func(v map[string]float64) string {
			return fmt.Sprintf("%.0f batches for %.0f records (%.1f a batch, largest %.0f)",
				v["batches"], v["records"], v["records"]/max(1, v["batches"]), v["largest-batch"])
		}},
	})
}

// boardTable: the board's page benchmark, one column per run.
func boardTable(r Run) string {
	cell := func(unit string) func(map[string]float64) string {
		return func(v map[string]float64) string { return dur(v[unit]) }
	}
	return runColumns(r.named("BoardPage"), []row{
		{"**first paint**: navigation to the whole fleet on screen (snapshot fetch and parse included)", cell("ms-first-paint")},
		{"**one update**: the page's script per change (row rebuilt and swapped), over a burst of 500", cell("ms-script/update")},
		{"counts redrawn (at most once a frame, whatever the burst)", cell("ms-counts/frame")},
		{"a change from the board's memory to the page's DOM, one at a time, p50", cell("ms-change-to-DOM-p50")},
		{"the same, p99 (of 50)", cell("ms-change-to-DOM-p99")},
	})
}
