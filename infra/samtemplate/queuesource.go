package samtemplate

import (
	"fmt"
	"strconv"
	"strings"
)

// QueueSource is a function's SQS event source, as the event source
// mapping will run it.
type QueueSource struct {
	// Queue is the logical id of the queue it reads (its Queue is the
	// queue's !GetAtt Arn).
	Queue string
	// BatchSize is the most messages per invocation (10 by default).
	BatchSize int
	// ReportBatchItemFailures: the function returns the messages to retry.
	ReportBatchItemFailures bool
}

// QueueSource returns the function's first SQS event, and false when it
// has none.
func (t *Template) QueueSource(functionID string) (QueueSource, bool, error) {
	evs, err := t.Events(functionID, "SQS")
	if err != nil || len(evs) == 0 {
		return QueueSource{}, false, err
	}
	p := evs[0].Properties
	src := QueueSource{BatchSize: 10}
	id, attr, _ := strings.Cut(p.Get("Queue").Target(), ".")
	if name, _ := p.Get("Queue").Intrinsic(); name != "Fn::GetAtt" || attr != "Arn" || t.TypeOf(id) != "AWS::SQS::Queue" {
		return src, true, fmt.Errorf("samtemplate: %s event %s: Queue %s is not !GetAtt <queue>.Arn of a queue of the template",
			functionID, evs[0].Name, p.Get("Queue").Target())
	}
	src.Queue = id
	if s := p.Get("BatchSize").Text(); s != "" {
		if src.BatchSize, err = strconv.Atoi(s); err != nil {
			return src, true, fmt.Errorf("samtemplate: %s BatchSize %q: %w", functionID, s, err)
		}
	}
	for _, typ := range p.Get("FunctionResponseTypes").Texts() {
		if typ == "ReportBatchItemFailures" {
			src.ReportBatchItemFailures = true
		}
	}
	return src, true, nil
}
