package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamhook/fastpix-receiver/internal/cli"
	"github.com/streamhook/fastpix-receiver/internal/ddbitem"
	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
)

// ScanAPI is the part of the DynamoDB client a migration reads with.
type ScanAPI interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// EnvClockSkewTolerance is the webhook's variable of the same name: how
// many seconds ahead of its receive time an event's createdAt is trusted to
// order it. The migration places old events by the same rule.
const EnvClockSkewTolerance = "CLOCK_SKEW_TOLERANCE_SECONDS"

// The parallel scan of migrate-events: by default a few parts at once, so
// that a table of millions of events is copied in hours, not days, from
// an operator's machine; at most what a burst of the notifier (every copy
// rings it) comfortably takes.
const (
	DefaultMigrationSegments = 4
	MaxMigrationSegments     = 32
)

// ErrNoPlace: an item of the old table lacks what places an event in its
// stream's log (a type, a time in RFC 3339). It is reported and left in the
// old table, not copied to a place it does not have.
var ErrNoPlace = errors.New("ops: old item has no place in the log")

// Migration copies the events of the table of the previous layout (keyed
// by event id, with a byStream index) into the events log (keyed by
// stream and event id, ordered by the byTime index), through the webhook's
// own conditional write: an event already in the log is not written
// again, so a migration can be run again, or stopped and resumed, and
// stores each event once.
//
// Each event is placed in its log as the webhook places one: at its
// createdAt, or at its receive time when createdAt was more than the
// clock-skew tolerance ahead of it. An old event stamped by a clock years
// ahead would otherwise land after everything its stream will ever do,
// and the notifier, reading the log after what it applied, would apply it
// and then take every real event after it for a late one.
type Migration struct {
	From   ScanAPI
	Table  string // the old table
	To     eventstore.Writer
	DryRun bool
	// ClockSkewTolerance is the webhook's (EnvClockSkewTolerance);
	// eventstore.DefaultClockSkewTolerance when zero.
	ClockSkewTolerance time.Duration
	// Segments is how many parts of the old table are read and copied at
	// once (a parallel scan); one when zero. A copy is one conditional
	// write after another: from an operator's machine, each takes the
	// round trip to DynamoDB.
	Segments int
	Out      io.Writer
}

// MigrationSummary counts a run. A dry run counts what it would copy as
// Copied.
type MigrationSummary struct {
	Read, Copied, AlreadyThere, Unstorable, Unreadable int
}

func (s MigrationSummary) String() string {
	return fmt.Sprintf("%d read: %d copied, %d already in the log, %d unstorable, %d unreadable",
		s.Read, s.Copied, s.AlreadyThere, s.Unstorable, s.Unreadable)
}

// Run scans the old table page by page and copies every event, Segments
// parts of the table at once. Every item it does not copy is named with
// the reason, one line each. It stops at the first error a retry could
// cure (running it again goes on where it left off, at the cost of a
// read and a refused conditional write per event already copied).
func (m *Migration) Run(ctx context.Context) (MigrationSummary, error) {
	segments := max(m.Segments, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		sum   MigrationSummary
		first error
		wg    sync.WaitGroup
	)
	for seg := range segments {
		wg.Go(func() {
			in := &dynamodb.ScanInput{TableName: aws.String(m.Table)}
			if segments > 1 {
				in.Segment, in.TotalSegments = aws.Int32(int32(seg)), aws.Int32(int32(segments))
			}
			err := m.copySegment(ctx, in, func(add func(*MigrationSummary), report string) {
				mu.Lock()
				defer mu.Unlock()
				add(&sum)
				if report != "" {
					fmt.Fprint(m.Out, report)
				}
			})
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
				cancel()
			}
		})
	}
	wg.Wait()
	if first != nil {
		return sum, fmt.Errorf("%w (%s so far; run again to go on)", first, sum)
	}
	if m.DryRun {
		fmt.Fprintf(m.Out, "dry run (nothing written; \"copied\" counts what would be, some may be in the log already): %s\n", sum)
	} else {
		fmt.Fprintf(m.Out, "migrated: %s\n", sum)
	}
	return sum, nil
}

// copySegment copies the items one scan (a whole table or one segment of
// it) reads, telling done what each counts for and, for an item not
// copied, the report's line.
func (m *Migration) copySegment(ctx context.Context, in *dynamodb.ScanInput, done func(add func(*MigrationSummary), report string)) error {
	p := dynamodb.NewScanPaginator(m.From, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("ops: scan %s: %w", m.Table, err)
		}
		for _, item := range page.Items {
			rec, err := eventstore.RecordFromItem(item)
			if err == nil {
				err = m.place(&rec, ddbitem.String(item, eventstore.AttrStreamID))
			}
			switch {
			case err != nil:
				done(func(s *MigrationSummary) { s.Read++; s.Unreadable++ }, reportLine(rec.EventID, "not copied (unreadable)", err))
				continue
			case m.DryRun:
				if err := rec.Storable(); err != nil {
					done(func(s *MigrationSummary) { s.Read++; s.Unstorable++ }, reportLine(rec.EventID, "would not be copied", err))
				} else {
					done(func(s *MigrationSummary) { s.Read++; s.Copied++ }, "")
				}
				continue
			}
			switch err := m.To.Put(ctx, rec); {
			case err == nil:
				done(func(s *MigrationSummary) { s.Read++; s.Copied++ }, "")
			case errors.Is(err, eventstore.ErrDuplicate):
				done(func(s *MigrationSummary) { s.Read++; s.AlreadyThere++ }, "")
			case errors.Is(err, eventstore.ErrUnstorable):
				done(func(s *MigrationSummary) { s.Read++; s.Unstorable++ }, reportLine(rec.EventID, "not copied", err))
			default:
				done(func(s *MigrationSummary) { s.Read++ }, "")
				return fmt.Errorf("ops: copy event %s: %w", quoted(rec.EventID, 80), err)
			}
		}
	}
	return nil
}

// reportLine says why one item was not copied, on one line whatever its
// id holds: ids and messages come from the table, and a hostile id must
// not forge lines of the report or drive the operator's terminal.
func reportLine(eventID, what string, err error) string {
	id := "(no id)"
	if eventID != "" {
		id = quoted(eventID, 80)
	}
	return fmt.Sprintf("  event %s %s: %s\n", id, what, escaped(err.Error()))
}

// place checks that rec, read from an old item whose stream id is
// streamID, can be placed in its stream's log, writes its times in
// eventstore.TimeLayout (so that text order stays time order next to the
// webhook's records) and gives it the order key the webhook would have
// given it (whatever orderKey the item carries: the old layout had none).
func (m *Migration) place(rec *eventstore.Record, streamID string) error {
	if _, ok := eventstore.StreamOfLogKey(streamID); !ok {
		// The log would read it as the key of an event about no stream.
		return fmt.Errorf("%w: %s %s begins with %q, which the log keeps for events about no stream", ErrNoPlace, eventstore.AttrStreamID, quoted(streamID, 64), eventstore.NoStreamPrefix)
	}
	if rec.Type == "" {
		return fmt.Errorf("%w: no %s", ErrNoPlace, eventstore.AttrType)
	}
	occurred, err := oldTime(rec.OccurredAt, eventstore.AttrOccurredAt)
	if err != nil {
		return err
	}
	received, err := oldTime(rec.ReceivedAt, eventstore.AttrReceivedAt)
	if err != nil {
		return err
	}
	if occurred.IsZero() && received.IsZero() {
		return fmt.Errorf("%w: neither %s nor %s", ErrNoPlace, eventstore.AttrOccurredAt, eventstore.AttrReceivedAt)
	}
	at := occurred
	if at.IsZero() {
		at = received
	}
	tolerance := m.ClockSkewTolerance
	if tolerance <= 0 {
		tolerance = eventstore.DefaultClockSkewTolerance
	}
	// The webhook's rule (eventstore.NewRecord): createdAt, unless it is
	// further ahead of the receive time than the tolerance.
	if !received.IsZero() && at.Sub(received) > tolerance {
		at = received
	}
	if !occurred.IsZero() {
		rec.OccurredAt = eventstore.FormatTime(occurred)
	}
	if !received.IsZero() {
		rec.ReceivedAt = eventstore.FormatTime(received)
	}
	change, _ := fastpix.ChangeOf(rec.Type, "")
	rec.OrderKey = eventstore.OrderKey(eventstore.FormatTime(at), change.Rank, rec.EventID)
	return nil
}

// oldTime reads one of an old item's times; "" is the zero time.
func oldTime(s, name string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := fastpix.ParseTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s %s is not an RFC 3339 time", ErrNoPlace, name, quoted(s, 64))
	}
	return t, nil
}

// RunMigrateEvents is `fastpixctl migrate-events`: its flags, then Run
// against the tables they name, with the AWS configuration awsConfig
// loads. A run that reports unreadable or unstorable items still ends
// without error: the rest is copied, and each of those is named.
func RunMigrateEvents(ctx context.Context, args []string, out io.Writer, awsConfig func(context.Context) (aws.Config, error)) error {
	c := cli.New("migrate-events")
	from := c.Need("from", "", "", "the events table of the previous layout (key eventId), kept by the stack update")
	to := c.Need("events-table", "EVENTS_TABLE", "the stack's EventsTableName output", "the events log")
	dry := c.Bool("dry-run", false, "read and count; write nothing")
	skew := c.Int("clock-skew-tolerance", envSeconds(EnvClockSkewTolerance, int(eventstore.DefaultClockSkewTolerance/time.Second)),
		"seconds createdAt may be ahead of the receive time, as the stack's ClockSkewToleranceSeconds ("+EnvClockSkewTolerance+")")
	segments := c.Int("segments", DefaultMigrationSegments, fmt.Sprintf("parts of the old table copied at once (1 to %d)", MaxMigrationSegments))
	if err := c.Parse(args); err != nil {
		return err
	}
	if *segments < 1 || *segments > MaxMigrationSegments {
		return fmt.Errorf("migrate-events: -segments must be 1 to %d, not %d", MaxMigrationSegments, *segments)
	}
	if *skew <= 0 {
		return fmt.Errorf("migrate-events: -clock-skew-tolerance must be positive, not %d", *skew)
	}
	if *from == *to {
		return fmt.Errorf("migrate-events: -from and -events-table are the same table %q", *from)
	}
	cfg, err := awsConfig(ctx)
	if err != nil {
		return err
	}
	ddb := dynamodb.NewFromConfig(cfg)
	m := &Migration{From: ddb, Table: *from, To: &eventstore.DynamoDB{Client: ddb, Table: *to}, DryRun: *dry,
		ClockSkewTolerance: time.Duration(*skew) * time.Second, Segments: *segments, Out: out}
	_, err = m.Run(ctx)
	return err
}

// envSeconds is the whole number in the variable name, or def.
func envSeconds(name string, def int) int {
	if n, err := strconv.Atoi(strings.TrimSpace(os.Getenv(name))); err == nil {
		return n
	}
	return def
}
