package awslocal_test

import (
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamhook/fastpix-receiver/infra/awslocal"
)

func TestFilter(t *testing.T) {
	rec := func(name, typ string) events.DynamoDBEventRecord {
		r := events.DynamoDBEventRecord{EventName: name}
		if typ != "" {
			r.Change.NewImage = map[string]events.DynamoDBAttributeValue{"type": events.NewStringAttribute(typ)}
		}
		return r
	}
	tests := []struct {
		name     string
		patterns []string
		rec      events.DynamoDBEventRecord
		want     bool
	}{
		{"no filter passes everything", nil, rec("REMOVE", ""), true},
		{"INSERT passes", []string{`{"eventName":["INSERT"]}`}, rec("INSERT", "x"), true},
		{"MODIFY is dropped", []string{`{"eventName":["INSERT"]}`}, rec("MODIFY", "x"), false},
		{"REMOVE is dropped", []string{`{"eventName":["INSERT"]}`}, rec("REMOVE", ""), false},
		{"nested value", []string{`{"dynamodb":{"NewImage":{"type":{"S":["video.live_stream.active"]}}}}`}, rec("INSERT", "video.live_stream.active"), true},
		{"nested value differs", []string{`{"dynamodb":{"NewImage":{"type":{"S":["video.live_stream.active"]}}}}`}, rec("INSERT", "video.live_stream.idle"), false},
		{"prefix", []string{`{"dynamodb":{"NewImage":{"type":{"S":[{"prefix":"video.live_stream."}]}}}}`}, rec("INSERT", "video.live_stream.idle"), true},
		{"prefix differs", []string{`{"dynamodb":{"NewImage":{"type":{"S":[{"prefix":"video.media."}]}}}}`}, rec("INSERT", "video.live_stream.idle"), false},
		{"exists false", []string{`{"dynamodb":{"NewImage":{"streamId":{"S":[{"exists":false}]}}}}`}, rec("INSERT", "x"), true},
		{"anything-but", []string{`{"eventName":[{"anything-but":["REMOVE"]}]}`}, rec("MODIFY", ""), true},
		{"anything-but the value", []string{`{"eventName":[{"anything-but":"REMOVE"}]}`}, rec("REMOVE", ""), false},
		{"patterns are alternatives", []string{`{"eventName":["MODIFY"]}`, `{"eventName":["INSERT"]}`}, rec("INSERT", ""), true},
		{"all keys of a pattern must match", []string{`{"eventName":["INSERT"],"dynamodb":{"NewImage":{"type":{"S":["a"]}}}}`}, rec("INSERT", "b"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := awslocal.NewFilter(tc.patterns)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Match(tc.rec); got != tc.want {
				t.Fatalf("Match = %v, want %v", got, tc.want)
			}
		})
	}

	for _, bad := range []string{`{"eventName":[{"numeric":[">",1]}]}`, `{"eventName":"INSERT"}`} {
		if _, err := awslocal.NewFilter([]string{bad}); !errors.Is(err, awslocal.ErrUnsupportedFilter) {
			t.Errorf("NewFilter(%s) = %v, want ErrUnsupportedFilter", bad, err)
		}
	}
	if _, err := awslocal.NewFilter([]string{`not json`}); err == nil {
		t.Error("NewFilter accepted text that is not JSON")
	}
}
