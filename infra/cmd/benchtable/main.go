// Command benchtable reads `go test -bench` output on standard input,
// passes it through, and prints after it the table BENCHMARKS.md shows for
// the webhook beside the floor (medians of the runs, their ratio), so the
// file is written from a run, not by hand. make bench pipes into it.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
)

var line = regexp.MustCompile(`^Benchmark(Webhook|Floor|Stage/[a-z-]+)/(\w+)-\d+\s+\d+\s+([\d.]+) ns/op.*?(\d+) allocs/op`)

func main() {
	ns := map[string][]float64{}
	allocs := map[string]string{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		fmt.Println(sc.Text())
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			v, _ := strconv.ParseFloat(m[3], 64)
			key := m[1] + "/" + m[2]
			ns[key] = append(ns[key], v)
			allocs[key] = m[4]
		}
	}
	write(os.Stdout, ns, allocs)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	return s[len(s)/2]
}

func write(w io.Writer, ns map[string][]float64, allocs map[string]string) {
	fmt.Fprintln(w, "\n| event | webhook | floor | **ratio** | webhook allocs | its stages: verify, parse, redact, item |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | --- |")
	for _, size := range []string{"1KB", "10KB"} {
		hook, floor := median(ns["Webhook/"+size]), median(ns["Floor/"+size])
		if hook == 0 || floor == 0 {
			continue
		}
		fmt.Fprintf(w, "| %s | %.1f µs | %.1f µs | **%.1fx** | %s | %.1f, %.1f, %.1f, %.1f µs |\n", size, hook/1000, floor/1000, hook/floor, allocs["Webhook/"+size],
			median(ns["Stage/verify/"+size])/1000, median(ns["Stage/parse/"+size])/1000, median(ns["Stage/redact/"+size])/1000, median(ns["Stage/store-item/"+size])/1000)
	}
}
