package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// ErrPublish: the message may not have reached the topic; publishing again
// is safe and needed.
var ErrPublish = errors.New("alerts: publish failed")

// Publisher sends a rendered alert to a topic.
type Publisher interface {
	Publish(ctx context.Context, topicARN string, m Message) error
}

// PublishAPI is the part of the SNS client SNSPublisher uses.
type PublishAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// SNSPublisher publishes with one SNS Publish per alert, MessageStructure
// json, so email gets the text, SMS the short line, https (chat) the chat
// integration's custom notification and everything else the JSON. A message with only a Default rendering (the change feed's) is
// published as that text itself, the same for every protocol.
type SNSPublisher struct {
	Client PublishAPI
}

var _ Publisher = (*SNSPublisher)(nil)

// Structure is the MessageStructure=json document of m: one rendering per
// protocol, "default" for the rest. The chat rendering, when there is one,
// is the "https" key: the protocol AWS's chat integration subscribes with.
func Structure(m Message) (string, error) {
	doc := map[string]string{"default": m.Default, "email": m.Email, "sms": m.SMS}
	if m.Chat != "" {
		doc["https"] = m.Chat
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("alerts: encode message structure: %w", err)
	}
	return string(b), nil
}

// Publish implements Publisher.
func (p *SNSPublisher) Publish(ctx context.Context, topicARN string, m Message) error {
	body, structure := m.Default, ""
	if m.Email != "" || m.SMS != "" {
		var err error
		if body, err = Structure(m); err != nil {
			return err
		}
		structure = "json"
	}
	attrs := make(map[string]types.MessageAttributeValue, len(m.Attributes))
	for name, v := range m.Attributes {
		if v != "" {
			attrs[name] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
	}
	in := &sns.PublishInput{
		TopicArn:          aws.String(topicARN),
		Message:           aws.String(body),
		MessageAttributes: attrs,
	}
	if structure != "" {
		in.MessageStructure = aws.String(structure)
	}
	if m.Subject != "" {
		in.Subject = aws.String(m.Subject)
	}
	if _, err := p.Client.Publish(ctx, in); err != nil {
		return fmt.Errorf("%w: to %s: %w", ErrPublish, topicARN, err)
	}
	return nil
}
