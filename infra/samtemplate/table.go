package samtemplate

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Table is what an AWS::DynamoDB::Table declares about its data: billing,
// attributes, keys, indexes, stream and TTL.
type Table struct {
	ID                     string // the logical id
	BillingMode            string // "" when not set
	AttributeDefinitions   []Attribute
	KeySchema              []Key
	GlobalSecondaryIndexes []Index
	LocalSecondaryIndexes  []Index
	StreamViewType         string // "" without a stream
	TTLAttribute           string // "" without TimeToLiveSpecification
}

// Attribute is one AttributeDefinition.
type Attribute struct{ Name, Type string }

// Key is one KeySchema element; KeyType is HASH or RANGE.
type Key struct{ Name, KeyType string }

// Index is one global or local secondary index.
type Index struct {
	Name             string
	KeySchema        []Key
	ProjectionType   string // ALL when the template says nothing
	NonKeyAttributes []string
}

// Table reads the AWS::DynamoDB::Table logicalID.
func (t *Template) Table(logicalID string) (Table, error) {
	r, err := t.ofType(logicalID, TypeTable)
	if err != nil {
		return Table{}, err
	}
	p := r.Properties()
	tbl := Table{
		ID:             logicalID,
		BillingMode:    p.Get("BillingMode").Text(),
		KeySchema:      keys(p.Get("KeySchema")),
		StreamViewType: p.Get("StreamSpecification", "StreamViewType").Text(),
		TTLAttribute:   p.Get("TimeToLiveSpecification", "AttributeName").Text(),
	}
	for _, a := range p.Get("AttributeDefinitions").List() {
		tbl.AttributeDefinitions = append(tbl.AttributeDefinitions, Attribute{a.Get("AttributeName").Text(), a.Get("AttributeType").Text()})
	}
	tbl.GlobalSecondaryIndexes = indexes(p.Get("GlobalSecondaryIndexes"))
	tbl.LocalSecondaryIndexes = indexes(p.Get("LocalSecondaryIndexes"))
	return tbl, nil
}

func indexes(n Node) []Index {
	var out []Index
	for _, g := range n.List() {
		idx := Index{
			Name:             g.Get("IndexName").Text(),
			KeySchema:        keys(g.Get("KeySchema")),
			ProjectionType:   g.Get("Projection", "ProjectionType").Text(),
			NonKeyAttributes: g.Get("Projection", "NonKeyAttributes").Texts(),
		}
		if idx.ProjectionType == "" {
			idx.ProjectionType = string(ddbtypes.ProjectionTypeAll)
		}
		out = append(out, idx)
	}
	return out
}

func projection(idx Index) *ddbtypes.Projection {
	return &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionType(idx.ProjectionType), NonKeyAttributes: idx.NonKeyAttributes}
}

func keys(n Node) []Key {
	var out []Key
	for _, k := range n.List() {
		out = append(out, Key{k.Get("AttributeName").Text(), k.Get("KeyType").Text()})
	}
	return out
}

// CreateTableInput turns the table with the given logical id into the
// request that creates it, named name. Billing, keys, indexes and the
// stream are the template's; what DynamoDB Local ignores (encryption,
// recovery, deletion protection, TTL) is left out.
func (t *Template) CreateTableInput(logicalID, name string) (*dynamodb.CreateTableInput, error) {
	tbl, err := t.Table(logicalID)
	if err != nil {
		return nil, err
	}
	if tbl.BillingMode != "" && tbl.BillingMode != string(ddbtypes.BillingModePayPerRequest) {
		return nil, fmt.Errorf("samtemplate: table %s: billing mode %s is not supported here", logicalID, tbl.BillingMode)
	}
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		KeySchema:   keySchema(tbl.KeySchema),
	}
	for _, a := range tbl.AttributeDefinitions {
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{
			AttributeName: aws.String(a.Name),
			AttributeType: ddbtypes.ScalarAttributeType(a.Type),
		})
	}
	for _, g := range tbl.GlobalSecondaryIndexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, ddbtypes.GlobalSecondaryIndex{
			IndexName: aws.String(g.Name), KeySchema: keySchema(g.KeySchema), Projection: projection(g),
		})
	}
	for _, l := range tbl.LocalSecondaryIndexes {
		in.LocalSecondaryIndexes = append(in.LocalSecondaryIndexes, ddbtypes.LocalSecondaryIndex{
			IndexName: aws.String(l.Name), KeySchema: keySchema(l.KeySchema), Projection: projection(l),
		})
	}
	if tbl.StreamViewType != "" {
		in.StreamSpecification = &ddbtypes.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: ddbtypes.StreamViewType(tbl.StreamViewType),
		}
	}
	return in, nil
}

func keySchema(ks []Key) []ddbtypes.KeySchemaElement {
	out := make([]ddbtypes.KeySchemaElement, 0, len(ks))
	for _, k := range ks {
		out = append(out, ddbtypes.KeySchemaElement{
			AttributeName: aws.String(k.Name),
			KeyType:       ddbtypes.KeyType(k.KeyType),
		})
	}
	return out
}
