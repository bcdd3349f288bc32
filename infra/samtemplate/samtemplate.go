// Package samtemplate reads the project's template.yaml, the one source of
// truth for the system's resources, so that the local stack and the tests
// create exactly the tables the deployed stack has, rather than declaring
// them a second time.
package samtemplate

import (
	"fmt"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	cfnddb "github.com/awslabs/goformation/v7/cloudformation/dynamodb"
	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/streamhook/fastpix-receiver/internal/emulator"
)

// Template is the parsed template.yaml.
type Template struct {
	*cloudformation.Template
}

// Path is template.yaml at the repository root.
func Path() (string, error) {
	root, err := emulator.Root()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "template.yaml"), nil
}

// Load parses the template at path, evaluating its conditions with the
// parameters' defaults.
func Load(path string) (*Template, error) {
	data, err := readForGoformation(path)
	if err != nil {
		return nil, err
	}
	t, err := goformation.ParseYAMLWithOptions(data, &intrinsics.ProcessorOptions{EvaluateConditions: true})
	if err != nil {
		return nil, fmt.Errorf("samtemplate: parse %s: %w", path, err)
	}
	return &Template{t}, nil
}

// LoadDefault parses the repository's template.yaml.
func LoadDefault() (*Template, error) {
	path, err := Path()
	if err != nil {
		return nil, err
	}
	return Load(path)
}

// CreateTableInput turns the table with the given logical id into the
// request that creates it, named name. Billing, keys, indexes and the
// stream are the template's; what DynamoDB Local ignores (encryption,
// recovery, deletion protection) is left out.
func (t *Template) CreateTableInput(logicalID, name string) (*dynamodb.CreateTableInput, error) {
	tbl, err := t.GetDynamoDBTableWithName(logicalID)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: table %s: %w", logicalID, err)
	}
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		KeySchema:   keySchema(tbl.KeySchema),
	}
	if tbl.BillingMode != nil && *tbl.BillingMode != string(ddbtypes.BillingModePayPerRequest) {
		return nil, fmt.Errorf("samtemplate: table %s: billing mode %s is not supported here", logicalID, *tbl.BillingMode)
	}
	for _, a := range tbl.AttributeDefinitions {
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{
			AttributeName: aws.String(a.AttributeName),
			AttributeType: ddbtypes.ScalarAttributeType(a.AttributeType),
		})
	}
	for _, g := range tbl.GlobalSecondaryIndexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, ddbtypes.GlobalSecondaryIndex{
			IndexName:  aws.String(g.IndexName),
			KeySchema:  keySchema(g.KeySchema),
			Projection: projection(g.Projection),
		})
	}
	if s := tbl.StreamSpecification; s != nil {
		in.StreamSpecification = &ddbtypes.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: ddbtypes.StreamViewType(s.StreamViewType),
		}
	}
	return in, nil
}

func keySchema(ks []cfnddb.Table_KeySchema) []ddbtypes.KeySchemaElement {
	out := make([]ddbtypes.KeySchemaElement, 0, len(ks))
	for _, k := range ks {
		out = append(out, ddbtypes.KeySchemaElement{
			AttributeName: aws.String(k.AttributeName),
			KeyType:       ddbtypes.KeyType(k.KeyType),
		})
	}
	return out
}

func projection(p *cfnddb.Table_Projection) *ddbtypes.Projection {
	out := &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll}
	if p == nil {
		return out
	}
	if p.ProjectionType != nil {
		out.ProjectionType = ddbtypes.ProjectionType(*p.ProjectionType)
	}
	out.NonKeyAttributes = p.NonKeyAttributes
	return out
}
