package lambdaenv

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// exited stops the code under test where os.Exit would have.
type exited struct{}

func run(t *testing.T, env map[string]string, f func(e *Env)) (failed bool, logs string) {
	t.Helper()
	var buf bytes.Buffer
	e := &Env{
		Log:    slog.New(slog.NewJSONHandler(&buf, nil)),
		Getenv: func(k string) string { return env[k] },
		Exit:   func(int) { panic(exited{}) },
	}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(exited); !ok {
				panic(r)
			}
			failed = true
		}
		logs = buf.String()
	}()
	f(e)
	return false, buf.String()
}

func TestSettings(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		read    func(e *Env) any
		want    any
		failLog string
	}{
		{"required set", map[string]string{"T": "tbl"}, func(e *Env) any { return e.Required("T") }, "tbl", ""},
		{"required missing", nil, func(e *Env) any { return e.Required("T") }, nil, "T is not set"},
		{"bool default", nil, func(e *Env) any { return e.Bool("B", true) }, true, ""},
		{"bool false", map[string]string{"B": "false"}, func(e *Env) any { return e.Bool("B", true) }, false, ""},
		{"bool bad", map[string]string{"B": "yes please"}, func(e *Env) any { return e.Bool("B", true) }, nil, "B must be true or false"},
		{"int default", nil, func(e *Env) any { return e.PositiveInt("N", 90) }, 90, ""},
		{"int set", map[string]string{"N": "30"}, func(e *Env) any { return e.PositiveInt("N", 90) }, 30, ""},
		{"int zero", map[string]string{"N": "0"}, func(e *Env) any { return e.PositiveInt("N", 90) }, nil, "N must be a positive whole number"},
		{"int text", map[string]string{"N": "ninety"}, func(e *Env) any { return e.PositiveInt("N", 90) }, nil, "N must be a positive whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got any
			failed, logs := run(t, tt.env, func(e *Env) { got = tt.read(e) })
			if tt.failLog != "" {
				if !failed || !strings.Contains(logs, tt.failLog) {
					t.Errorf("failed=%v logs=%s; want exit with %q", failed, logs, tt.failLog)
				}
				return
			}
			if failed || got != tt.want {
				t.Errorf("= %v (failed %v), want %v", got, failed, tt.want)
			}
		})
	}
}
