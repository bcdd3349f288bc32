// Command benchtable reads `go test -bench` output on standard input,
// passes it through, and prints after it the tables BENCHMARKS.md shows for
// the benchmarks it recognises, in the file's shape (a line naming the
// command, the machine and the date, then the markdown table), so that the
// file is pasted from a run, not written by hand, and cannot drift from what
// the make targets measure. make bench, bench-e2e, bench-burst and
// bench-board pipe into it:
//
//	go test -run '^$' -bench Burst ./infra/proof | go run ./infra/cmd/benchtable -cmd 'make bench-burst'
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

func main() {
	cmd := flag.String("cmd", "", "the command the tables say produced them, e.g. 'make bench'")
	flag.Parse()
	run, err := Read(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchtable: %v\n", err)
		os.Exit(1)
	}
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), Load: loadAverage(), At: time.Now().UTC()}
	tables := run.Tables(*cmd, m)
	if tables == "" {
		fmt.Fprintln(os.Stderr, "benchtable: no benchmark this command knows a table for in the input")
		os.Exit(1)
	}
	fmt.Print("\n" + tables)
}

// loadAverage is the machine's one-minute load average, or "" where
// /proc/loadavg is not there: the figures here are read beside it.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}
