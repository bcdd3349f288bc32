package testenv

import (
	"bytes"
	"sync"
)

// SyncBuffer collects the log lines of code under test that logs from
// several goroutines (handlers under concurrent deliveries, the poller),
// so a test can search them afterwards.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
