package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/internal/repo"
)

// Output as go test -bench prints it: headers, results with custom
// metrics, log lines and noise between them.
const sample = `goos: linux
goarch: amd64
pkg: github.com/streamhook/fastpix-receiver/pkg/httpapi
cpu: AMD EPYC
BenchmarkWebhook/1KB-2         	     200	     40000 ns/op	  25.45 MB/s	   16408 B/op	     206 allocs/op
BenchmarkWebhook/1KB-2         	     200	     30000 ns/op	  28.84 MB/s	   16377 B/op	     206 allocs/op
BenchmarkWebhook/1KB-2         	     200	     50000 ns/op	  28.84 MB/s	   16377 B/op	     206 allocs/op
BenchmarkFloor/1KB-2           	     200	     10000 ns/op	  93.21 MB/s	    7088 B/op	     132 allocs/op
BenchmarkStage/verify/1KB-2    	     200	      1200 ns/op	       0 B/op	       0 allocs/op
BenchmarkStage/parse/1KB-2     	     200	     26500 ns/op	       0 B/op	      90 allocs/op
BenchmarkStage/redact/1KB-2    	     200	      5900 ns/op	       0 B/op	      30 allocs/op
BenchmarkStage/store-item/1KB-2	     200	      3900 ns/op	       0 B/op	      40 allocs/op
BenchmarkEndToEnd/poller-off-2         	    2000	         1.008 mean-e2e-ms	         0.9178 mean-floor-ms	         0.8224 mean-put-ms	         0.06127 p50-added-ms	         0.7438 p50-e2e-ms	         0.6825 p50-floor-ms	         0.04924 p50-handler-ms	         0.07373 p50-hop-ms	         0.5958 p50-put-ms	         1.248 p50-put-ratio	         1.090 p50-ratio	         5.547 p99-e2e-ms	         4.888 p99-floor-ms	         4.827 p99-put-ms	         1.135 p99-ratio
BenchmarkEndToEnd/poller-on-fleet-2    	    2000	         8.759 mean-e2e-ms	         9.082 mean-floor-ms	         8.489 mean-put-ms	        -0.05456 p50-added-ms	         6.612 p50-e2e-ms	         6.666 p50-floor-ms	         0.07863 p50-handler-ms	         0.1221 p50-hop-ms	         6.172 p50-put-ms	         1.071 p50-put-ratio	         0.9918 p50-ratio	        44.18 p99-e2e-ms	        44.00 p99-floor-ms	        43.03 p99-put-ms	         1.004 p99-ratio
BenchmarkEndToEnd/poller-on-one-stream-2         	    2000	        44.54 mean-e2e-ms	        42.45 mean-floor-ms	        42.98 mean-put-ms	         3.471 p50-added-ms	        30.06 p50-e2e-ms	        26.59 p50-floor-ms	         0.09511 p50-handler-ms	         0.1370 p50-hop-ms	        28.26 p50-put-ms	         1.064 p50-put-ratio	         1.131 p50-ratio	       195.6 p99-e2e-ms	       199.7 p99-floor-ms	       206.7 p99-put-ms	         0.9797 p99-ratio
    e2e_bench_test.go:341: 2000 pairs after 300 warm-up pairs
burst: last delivery → last alert 930ms
BenchmarkBurst-2 	       1	         0 ns/op	       356.0 deliveries/s	        65.00 p50-delivery-ms	       285.0 p99-delivery-ms	       888.0 p50-alert-ms	      1520 p99-alert-ms	      1650 max-alert-ms	       930.0 last-alert-after-last-delivery-ms	         0 alerts-wrong	       900.0 accepted	         2.530 send-s	       600.0 alerts	       600.0 alerted-events	         0 alerts-extra	         0 alerts-missing	        45.00 batches	       900.0 records	        59.00 largest-batch
BenchmarkBoardPage-2 	       1	 900000000 ns/op	       382.0 ms-first-paint	         0.08400 ms-script/update	         1.600 ms-counts/frame	        13.70 ms-change-to-DOM-p50	       193.0 ms-change-to-DOM-p99
BenchmarkBoardPage-2 	       1	 900000000 ns/op	       335.0 ms-first-paint	         0.1310 ms-script/update	         3.850 ms-counts/frame	        10.10 ms-change-to-DOM-p50	       164.0 ms-change-to-DOM-p99
PASS
ok  	github.com/streamhook/fastpix-receiver/pkg/httpapi	12.5s
`

var machine = Machine{Cores: 2, GoVersion: "go1.26.8", Load: "0.70", At: time.Date(2026, 12, 4, 2, 37, 0, 0, time.UTC)}

func TestTablesInBenchmarksShape(t *testing.T) {
	var echo bytes.Buffer
	run, err := Read(strings.NewReader(sample), &echo)
	if err != nil {
		t.Fatal(err)
	}
	if echo.String() != sample {
		t.Errorf("the run is not passed through as it was:\n%s", echo.String())
	}
	got := run.Tables("make bench", machine)
	for _, want := range []string{
		"BENCHMARKS.md, \"The webhook's own work per event, beside the floor\":\n\n`make bench`, 2026-12-04 02:37 UTC: 2 cores (AMD EPYC), go1.26.8 linux/amd64, load average 0.70 after the run.\n\n| event |",
		// medians: 40.0 of 30, 40, 50
		"| 1 KB `active` with credentials | 40.0 µs | 10.0 µs | **4.0x** | 206 | 1.2, 26.5, 5.9, 3.9 µs |\n",
		"| notifier off (2000 pairs) | 0.744 ms | 0.682 ms | **1.09x** | 0.596 ms | 1.25x | 5.55 ms, 1.01 ms | 4.89 ms, 0.918 ms | +0.061 ms (0.074 ms, 0.049 ms) |\n",
		"| notifier on, 500 streams (2000 pairs) | 6.61 ms | 6.67 ms | **0.99x** | 6.17 ms | 1.07x | 44.2 ms, 8.76 ms | 44.0 ms, 9.08 ms | -0.055 ms (0.122 ms, 0.079 ms) |\n",
		"| notifier on, one stream (2000 pairs) | 30.1 ms | 26.6 ms | **1.13x** | 28.3 ms | 1.06x | 196 ms, 44.5 ms | 200 ms, 42.5 ms | +3.471 ms (0.137 ms, 0.095 ms) |\n",
		"BENCHMARKS.md, \"Kickoff burst\":",
		"| | run 1 |\n| --- | ---: |\n| webhook | 900 accepted in 2.53 s: 356 deliveries/s; latency p50 65.0 ms, p99 285 ms |\n",
		"| alerts | 600 of 600 alerted events, 0 extra, 0 missing |\n",
		"| delay from a delivery's 200 to its alert | p50 888 ms, p99 1.52 s, max 1.65 s |\n",
		"| **last delivery → last alert** | **930 ms** |\n",
		"| notifier | 45 batches for 900 records (20.0 a batch, largest 59) |\n",
		"| | run 1 | run 2 |\n| --- | ---: | ---: |\n| **first paint**: navigation to the whole fleet on screen (snapshot fetch and parse included) | 382 ms | 335 ms |\n",
		"| **one update**: the page's script per change (row rebuilt and swapped), over a burst of 500 | 0.084 ms | 0.131 ms |\n",
		"| the same, p99 (of 50) | 193 ms | 164 ms |\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the tables lack\n%s\ngot:\n%s", want, got)
		}
	}
	// Every table is a markdown table: each of its rows has as many cells
	// as its header.
	for _, block := range strings.Split(got, "\n\n") {
		if !strings.HasPrefix(block, "|") {
			continue
		}
		lines := strings.Split(strings.TrimSpace(block), "\n")
		cells := strings.Count(lines[0], "|")
		for _, l := range lines[1:] {
			if strings.Count(l, "|") != cells {
				t.Errorf("row %q has %d bars, its header %d", l, strings.Count(l, "|"), cells)
			}
		}
	}
}

// Each make target's output yields its own table only, and output with no
// known benchmark yields none (benchtable then fails rather than printing
// an empty table).
func TestTablesOnlyForWhatRan(t *testing.T) {
	var burst []string
	for l := range strings.SplitSeq(sample, "\n") {
		if !strings.HasPrefix(l, "Benchmark") || strings.HasPrefix(l, "BenchmarkBurst") {
			burst = append(burst, l)
		}
	}
	run, err := Read(strings.NewReader(strings.Join(burst, "\n")), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := run.Tables("make bench-burst", machine)
	if n := strings.Count(got, "BENCHMARKS.md, "); n != 1 || !strings.Contains(got, `"Kickoff burst"`) || !strings.Contains(got, "`make bench-burst`, ") {
		t.Errorf("burst output gave %d tables:\n%s", n, got)
	}
	run, err = Read(strings.NewReader("PASS\nok  \tx\t0.1s\nBenchmarkOdd-2 \t 10\t garbage ns/op\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := run.Tables("", machine); got != "" {
		t.Errorf("no known benchmark, yet:\n%s", got)
	}
}

func TestDur(t *testing.T) {
	for ms, want := range map[float64]string{0.0724: "0.072 ms", 1.206: "1.21 ms", 43.4: "43.4 ms", 888: "888 ms", 1520: "1.52 s"} {
		if got := dur(ms); got != want {
			t.Errorf("dur(%v) = %q, want %q", ms, got, want)
		}
	}
}

// BENCHMARKS.md has a section for each table benchtable prints, and in it
// a line naming its make target and a table with the same header and as
// many cells a row as benchtable prints: what a run prints pastes in.
func TestBenchmarksFileHasTheTablesShape(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(root(t), "BENCHMARKS.md"))
	if err != nil {
		t.Fatal(err)
	}
	run, err := Read(strings.NewReader(sample), nil)
	if err != nil {
		t.Fatal(err)
	}
	printed := run.Tables("make bench", machine)
	sections := strings.Split(string(text), "\n## ")
	for _, block := range strings.Split(printed, "BENCHMARKS.md, ")[1:] {
		title, _ := strconv.Unquote(block[:strings.Index(block, ":\n")])
		header := block[strings.Index(block, "\n|")+1:]
		header = header[:strings.Index(header, "\n")]
		i := slices.IndexFunc(sections, func(s string) bool { return strings.HasPrefix(s, title+"\n") })
		if i < 0 {
			t.Errorf("BENCHMARKS.md has no section %q, for which benchtable prints a table", title)
			continue
		}
		section := sections[i]
		if !regexp.MustCompile("(?m)^`make bench[a-z-]*[^`]*`, 20\\d\\d-\\d\\d-\\d\\d( \\d\\d:\\d\\d UTC)?: \\d+ cores").MatchString(section) {
			t.Errorf("section %q does not say its command, date and machine as benchtable prints them", title)
		}
		at := strings.Index(section, "\n| ")
		if at < 0 {
			t.Errorf("section %q has no table", title)
			continue
		}
		table := strings.Split(strings.TrimSpace(strings.SplitN(section[at+1:], "\n\n", 2)[0]), "\n")
		if strings.Contains(title, "board") || strings.Contains(title, "burst") {
			// one column per run: compare the header's first cell only
			if !strings.HasPrefix(table[0], "| | run 1 |") {
				t.Errorf("section %q's table starts %q, benchtable prints %q", title, table[0], header)
			}
		} else if table[0] != header {
			t.Errorf("section %q's table header is\n%s\nbenchtable prints\n%s", title, table[0], header)
		}
		for _, row := range table[1:] {
			if strings.Count(row, "|") != strings.Count(table[0], "|") {
				t.Errorf("section %q: row %q has %d cells, its header %d", title, row, strings.Count(row, "|")-1, strings.Count(table[0], "|")-1)
			}
		}
	}
}

func root(t *testing.T) string {
	t.Helper()
	r, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	return r
}
