package localstack_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/streamhook/fastpix-receiver/infra/localstack"
	"github.com/streamhook/fastpix-receiver/internal/testenv"
)

// startStack starts the whole local stack for one test, with cfg's
// settings, its emulators' output in a temporary folder and its log in the
// returned buffer; the stack stops when the test ends, and its log is
// printed when the test failed. It skips in -short mode.
func startStack(t *testing.T, timeout time.Duration, cfg localstack.Config) (context.Context, *localstack.Stack, *testenv.SyncBuffer) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts DynamoDB Local and goaws")
	}
	logs := &testenv.SyncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	cfg.LogDir = t.TempDir()
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	st, err := localstack.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st.Stop()
		if t.Failed() {
			t.Logf("stack log:\n%s", logs.String())
		}
	})
	return ctx, st, logs
}
