package ddbitem_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamhook/fastpix-receiver/internal/ddbitem"
)

func TestString(t *testing.T) {
	item := map[string]types.AttributeValue{
		"s":     &types.AttributeValueMemberS{Value: "v"},
		"empty": &types.AttributeValueMemberS{Value: ""},
		"n":     &types.AttributeValueMemberN{Value: "1"},
		"nul":   &types.AttributeValueMemberNULL{Value: true},
	}
	for _, tc := range []struct{ name, want string }{
		{"s", "v"}, {"empty", ""}, {"n", ""}, {"nul", ""}, {"absent", ""},
	} {
		if got := ddbitem.String(item, tc.name); got != tc.want {
			t.Errorf("String(%s) = %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := ddbitem.String(nil, "s"); got != "" {
		t.Errorf("String of a nil item = %q", got)
	}
}
