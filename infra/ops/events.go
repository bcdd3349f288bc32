// Package ops is the operator's toolbox behind `fastpixctl`: re-sending
// alerts from stored events (replay), re-processing what the notifier gave
// up on (redrive), rotating the signing secret without a failed delivery,
// and reading a stream's state and history (inspect).
//
// Every command works on the same stores and the same notifier code as the
// functions (pkg/notify, pkg/streamstate, pkg/eventstore), so what a
// command does is what the notifier would have done.
package ops

import "github.com/streamhook/fastpix-receiver/pkg/eventstore"

// Replay and redrive read stored events by time range; the events table's
// own package does the reading (eventstore.RangeReader). These names are
// the ones ops' callers use.
type (
	// EventSource reads stored events in occurredAt order.
	EventSource = eventstore.RangeReader
	// EventQuery selects stored events.
	EventQuery = eventstore.RangeQuery
)

// ErrBadRange: the query's range is empty or inverted.
var ErrBadRange = eventstore.ErrBadRange

// DefaultEventLimit bounds one replay unless the operator says otherwise.
const DefaultEventLimit = eventstore.DefaultRangeLimit
