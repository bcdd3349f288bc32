package deadline

import (
	"context"
	"testing"
	"time"
)

func TestReserve(t *testing.T) {
	const margin = time.Second
	tests := []struct {
		name       string
		deadlineIn time.Duration // 0: none
		again      bool          // reserved a second time, further down
		want       time.Duration // the deadline's distance from the parent's; -1: none
	}{
		{"no deadline: none", 0, false, -1},
		{"a deadline: margin before it", 10 * time.Second, false, margin},
		{"reserved twice: the margin is kept once", 10 * time.Second, true, margin},
		{"a deadline inside the margin: already past", 500 * time.Millisecond, false, margin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := context.Background()
			if tt.deadlineIn > 0 {
				var cancel context.CancelFunc
				parent, cancel = context.WithTimeout(parent, tt.deadlineIn)
				defer cancel()
			}
			ctx, cancel := Reserve(parent, margin)
			defer cancel()
			if tt.again {
				ctx, cancel = Reserve(ctx, margin)
				defer cancel()
			}
			d, ok := ctx.Deadline()
			pd, _ := parent.Deadline()
			switch {
			case tt.want < 0 && ok:
				t.Errorf("deadline %v, want none", d)
			case tt.want >= 0 && (!ok || pd.Sub(d) != tt.want):
				t.Errorf("deadline %v before the parent's (set: %v), want %v", pd.Sub(d), ok, tt.want)
			}
			if tt.deadlineIn > 0 && tt.deadlineIn < margin && ctx.Err() == nil {
				t.Error("a deadline inside the margin leaves a live context")
			}
		})
	}
}
