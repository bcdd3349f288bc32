// Package eventstore keeps FastPix events in DynamoDB as each stream's
// ordered log: one item per event, written once, read back per stream in
// the order the stream's state applies them.
//
// The table's shape (keys, index, attribute names) is declared here once;
// the SAM template, the local stack and the tests are checked against these
// constants.
//
// # Layout
//
// The events table (template.yaml's EventLogTable) is each stream's ordered
// log:
//
//   - partition key streamId: a stream's events are one item collection,
//     read back in one strongly consistent Query. An event about no stream
//     is partitioned by its object's id (else its own id) behind
//     NoStreamPrefix, so it never joins a stream's log.
//   - sort key eventId: the event's identity. The one write per event is a
//     PutItem conditional on attribute_not_exists(eventId): duplicates and
//     FastPix's retries (whatever their attempts or headers) are stored
//     once, and race safely.
//   - local secondary index byTime, sort key orderKey (OrderKey): the time
//     the event is ordered by (createdAt, or our receive time when createdAt
//     is missing or more than CLOCK_SKEW_TOLERANCE_SECONDS ahead of it),
//     then the lifecycle's rank, then the id. A local index, because only a
//     local index can be read strongly consistently: the notifier reads a
//     stream's log right after the write that rang its bell, and must see it.
//   - the table's stream is KEYS_ONLY: a stream record is a doorbell that
//     names the stream and the event; the notifier reads the log itself
//     (pkg/notify), because Lambda keeps order per item, not per stream.
//
// Why not keep the table keyed by event id with a global index by stream:
// a global index is eventually consistent (a reader can miss the event that
// rang), and its order across items is an accident of scheduling.
//
// # Cost per event
//
// In request units (docs/cost.md turns them into dollars, with the prices
// and their date):
//
//   - the write: one write unit per KB of the item, twice (the item and its
//     index entry, which projects everything): a 2 KB event is 4 WRU. A
//     duplicate is one failed conditional write.
//   - storage: the item and its index copy, about 2 × (size + 100 bytes),
//     for RETENTION_DAYS (TTL deletes are free).
//   - the stream: read by Lambda at no charge; KEYS_ONLY records are small.
//   - the notifier, per stream per invocation, whatever the number of
//     events it brings: one consistent GetItem of the state, one consistent
//     Query of the log from a look-back before the applied position (one
//     read unit per 4 KB read; a filter returns only the events received
//     since the previous pass read, so the work after it is the stream's
//     new events), and one or two PutItem of the state item (the second
//     clears what was sent).
//
// # Limits
//
// A partition key (the stream id) is at most 2048 bytes, a sort key (the
// event id; the order key) at most 1024: beyond them an event is refused
// with ErrUnstorable (the webhook answers 400; no retry can store it). A
// partition with a local index holds at most 10 GB: a stream's log past
// that (at 2 KB an event, some 2.5 million events within the retention) is
// refused the same way until older events expire.
package eventstore
