// Package deadline keeps part of an invocation's time for reporting a
// failure. Lambda ends a function at its timeout, and with it the answer,
// the log line and the metric that would have said what went wrong; work
// that stalls must give up early enough for those to be written.
package deadline

import (
	"context"
	"time"
)

type reservedKey struct{}

// Reserve returns a context that ends margin before ctx's deadline, kept for
// whoever reports the outcome; a ctx without a deadline gets none. The
// reservation is made once: a context that already carries one (made by
// Reserve further up) keeps its deadline, so a domain's budget and the AWS
// clients' each taking a margin do not add up.
func Reserve(ctx context.Context, margin time.Duration) (context.Context, context.CancelFunc) {
	d, ok := ctx.Deadline()
	if !ok || ctx.Value(reservedKey{}) != nil {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(context.WithValue(ctx, reservedKey{}, true), d.Add(-margin))
}
