package ops

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamhook/fastpix-receiver/pkg/eventstore"
)

// ScanAPI is the part of the DynamoDB client a migration reads with.
type ScanAPI interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Migration copies the events of the table of the previous layout (keyed
// by event id, with a byStream index) into the events log (keyed by
// stream and event id, ordered by the byTime index), through the webhook's
// own conditional write: an event already in the log is not written
// again, so a migration can be run again, or stopped and resumed, and
// stores each event once.
type Migration struct {
	From   ScanAPI
	Table  string // the old table
	To     eventstore.Writer
	DryRun bool
	Out    io.Writer
}

// MigrationSummary counts a run.
type MigrationSummary struct {
	Read, Copied, AlreadyThere, Unstorable, Unreadable int
}

func (s MigrationSummary) String() string {
	return fmt.Sprintf("%d read: %d copied, %d already in the log, %d unstorable, %d unreadable",
		s.Read, s.Copied, s.AlreadyThere, s.Unstorable, s.Unreadable)
}

// Run scans the old table page by page and copies every event. It stops
// at the first error a retry could cure (running it again goes on where
// it left off, at the cost of a read).
func (m *Migration) Run(ctx context.Context) (MigrationSummary, error) {
	var sum MigrationSummary
	p := dynamodb.NewScanPaginator(m.From, &dynamodb.ScanInput{TableName: aws.String(m.Table)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return sum, fmt.Errorf("ops: scan %s: %w", m.Table, err)
		}
		for _, item := range page.Items {
			sum.Read++
			rec, err := eventstore.RecordFromItem(item)
			if err != nil {
				sum.Unreadable++
				fmt.Fprintf(m.Out, "  unreadable item skipped: %v\n", err)
				continue
			}
			if m.DryRun {
				continue
			}
			switch err := m.To.Put(ctx, rec); {
			case err == nil:
				sum.Copied++
			case errors.Is(err, eventstore.ErrDuplicate):
				sum.AlreadyThere++
			case errors.Is(err, eventstore.ErrUnstorable):
				sum.Unstorable++
				fmt.Fprintf(m.Out, "  event %s not copied: %v\n", rec.EventID, err)
			default:
				return sum, fmt.Errorf("ops: copy event %s: %w (%s so far; run again to go on)", rec.EventID, err, sum)
			}
		}
	}
	mode := "migrated"
	if m.DryRun {
		mode = "dry run (nothing written)"
	}
	fmt.Fprintf(m.Out, "%s: %s\n", mode, sum)
	return sum, nil
}
