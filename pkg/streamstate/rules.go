package streamstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/internal/ddbitem"
	"github.com/streamhook/fastpix-receiver/pkg/alertrules"
)

// The alert rules' memory (pkg/alertrules) lives in the stream's own item,
// beside the status it is about.
const (
	// AttrAlerting is the rules' memory, alertrules.Memory as JSON text:
	// when the stream went live, the held disconnect, the alerted one, the
	// recent brief drops.
	AttrAlerting = "alerting"
	// AttrAlertingRev (N) counts the writes of AttrAlerting. Each write is
	// conditional on the count it was decided from, so two deliveries that
	// race (a check delivered twice, two events of one stream on two shards)
	// cannot both act on the same memory: a decision is made once.
	AttrAlertingRev = "alertingRev"
)

// ErrConflict: the rules' memory was written by someone else since it was
// read; SaveRules returns the memory as it is now, to decide again from.
var ErrConflict = errors.New("streamstate: alert rules' memory changed meanwhile")

// Rules is the rules' memory of a stream and its write count.
type Rules struct {
	Memory alertrules.Memory
	Rev    int64
}

// RulesStore keeps the rules' memory of each stream.
type RulesStore interface {
	// LoadRules reads the memory (strongly consistent); ErrNotFound for a
	// stream with no state.
	LoadRules(ctx context.Context, streamID string) (Rules, error)
	// SaveRules writes m when the memory is still at rev, and returns it
	// at its new rev. Otherwise it returns ErrConflict and the memory as it
	// is now (ErrNotFound when the stream has no state).
	SaveRules(ctx context.Context, streamID string, m alertrules.Memory, rev int64) (Rules, error)
}

var (
	_ RulesStore = (*Store)(nil)
	_ RulesStore = (*Memory)(nil)
)

// RulesFromItem reads the rules' memory out of a state item. A memory that
// cannot be read (written by a later version, or damaged) is taken as
// empty, at its rev: forgetting a held disconnect costs one alert, while
// failing on it would stop the stream's alerts for good.
func RulesFromItem(item map[string]types.AttributeValue) Rules {
	var r Rules
	if n, ok := item[AttrAlertingRev].(*types.AttributeValueMemberN); ok {
		r.Rev, _ = strconv.ParseInt(n.Value, 10, 64)
	}
	if text := ddbitem.String(item, AttrAlerting); text != "" {
		if err := json.Unmarshal([]byte(text), &r.Memory); err != nil {
			r.Memory = alertrules.Memory{}
		}
	}
	return r
}

// LoadRules implements RulesStore.
func (s *Store) LoadRules(ctx context.Context, streamID string) (Rules, error) {
	out, err := s.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                s.tablePtr(),
		Key:                      s.key(streamID),
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#id, #a, #rev"),
		ExpressionAttributeNames: map[string]string{"#id": KeyStreamID, "#a": AttrAlerting, "#rev": AttrAlertingRev},
	})
	if err != nil {
		return Rules{}, failed(err, fmt.Sprintf("read the alert rules' memory of stream %s from %s", streamID, s.Table))
	}
	if len(out.Item) == 0 {
		return Rules{}, fmt.Errorf("%w: %s", ErrNotFound, streamID)
	}
	return RulesFromItem(out.Item), nil
}

// SaveRules implements RulesStore with one conditional UpdateItem; a
// failed condition returns the item as it is, so a conflict costs no read.
func (s *Store) SaveRules(ctx context.Context, streamID string, m alertrules.Memory, rev int64) (Rules, error) {
	text, err := json.Marshal(m)
	if err != nil {
		return Rules{}, fmt.Errorf("%w: encode the alert rules' memory of stream %s: %w", ErrUnprocessable, streamID, err)
	}
	cond := "attribute_exists(#id) AND #rev = :rev"
	values := map[string]types.AttributeValue{
		":a":    str(string(text)),
		":next": &types.AttributeValueMemberN{Value: strconv.FormatInt(rev+1, 10)},
	}
	names := map[string]string{"#id": KeyStreamID, "#a": AttrAlerting, "#rev": AttrAlertingRev}
	if rev == 0 {
		cond = "attribute_exists(#id) AND attribute_not_exists(#rev)"
	} else {
		values[":rev"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(rev, 10)}
	}
	_, err = s.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           s.tablePtr(),
		Key:                                 s.key(streamID),
		UpdateExpression:                    aws.String("SET #a = :a, #rev = :next"),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return Rules{Memory: m, Rev: rev + 1}, nil
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if len(ccf.Item) == 0 {
			return Rules{}, fmt.Errorf("%w: %s", ErrNotFound, streamID)
		}
		return RulesFromItem(ccf.Item), fmt.Errorf("%w: stream %s, rev %d", ErrConflict, streamID, rev)
	}
	return Rules{}, failed(err, fmt.Sprintf("write the alert rules' memory of stream %s in %s", streamID, s.Table))
}

// LoadRules implements RulesStore in memory.
func (m *Memory) LoadRules(ctx context.Context, streamID string) (Rules, error) {
	st, err := m.state(ctx, streamID)
	if err != nil {
		return Rules{}, err
	}
	if st.Status == "" && st.LastEventID == "" {
		return Rules{}, fmt.Errorf("%w: %s", ErrNotFound, streamID)
	}
	return st.rules, nil
}

// SaveRules implements RulesStore in memory.
func (m *Memory) SaveRules(ctx context.Context, streamID string, mem alertrules.Memory, rev int64) (Rules, error) {
	st, err := m.state(ctx, streamID)
	if err != nil {
		return Rules{}, err
	}
	if st.Status == "" && st.LastEventID == "" {
		return Rules{}, fmt.Errorf("%w: %s", ErrNotFound, streamID)
	}
	if st.rules.Rev != rev {
		return st.rules, fmt.Errorf("%w: stream %s, rev %d", ErrConflict, streamID, rev)
	}
	st.rules = Rules{Memory: mem, Rev: rev + 1}
	st.Alerting = &st.rules.Memory
	return st.rules, nil
}
