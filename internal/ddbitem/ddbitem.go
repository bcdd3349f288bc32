// Package ddbitem reads attributes of DynamoDB items for the storage
// packages (pkg/eventstore, pkg/streamstate), which treat an attribute of
// an unexpected type as absent.
package ddbitem

import "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

// String returns the string attribute name of item, or "" when it is
// absent or not a string.
func String(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}
