package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
)

// ErrRotation: the secret is not in the state the rotation step expects.
var ErrRotation = errors.New("ops: rotation step does not apply")

// SecretsAPI is the part of the Secrets Manager client rotation uses.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

// Rotation changes the webhook signing secret in two steps, so that no
// delivery fails: Add puts the new secret beside the old one (the webhook
// accepts a signature by either), the operator switches FastPix to the new
// one, and Finish keeps only the new one. No secret value is ever printed.
type Rotation struct {
	Client   SecretsAPI
	SecretID string
	Out      io.Writer
}

func (r *Rotation) read(ctx context.Context) ([]string, error) {
	out, err := r.Client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(r.SecretID)})
	if err != nil {
		return nil, fmt.Errorf("ops: read secret %s: %w", r.SecretID, err)
	}
	return split(aws.ToString(out.SecretString)), nil
}

// split reads the secret's value as the webhook does (fastpix.NewVerifier):
// secrets separated by commas, white space around each ignored.
func split(v string) []string {
	var out []string
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (r *Rotation) write(ctx context.Context, secrets []string) error {
	// The webhook reads the value as it will: refuse to store what it could
	// not use.
	if _, err := fastpix.NewVerifier(secrets...); err != nil {
		return fmt.Errorf("ops: refusing to store the secret: %w", err)
	}
	if _, err := r.Client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(r.SecretID), SecretString: aws.String(strings.Join(secrets, ",")),
	}); err != nil {
		return fmt.Errorf("ops: write secret %s: %w", r.SecretID, err)
	}
	return nil
}

// Status prints how many signing secrets the secret holds.
func (r *Rotation) Status(ctx context.Context) error {
	cur, err := r.read(ctx)
	if err != nil {
		return err
	}
	switch len(cur) {
	case 0:
		fmt.Fprintf(r.Out, "%s holds no signing secret: every event is refused (5xx) until one is set\n", r.SecretID)
	case 1:
		fmt.Fprintf(r.Out, "%s holds 1 signing secret: no rotation in progress\n", r.SecretID)
	default:
		fmt.Fprintf(r.Out, "%s holds %d signing secrets: a rotation is in progress (the first is the new one)\n", r.SecretID, len(cur))
	}
	return nil
}

// Add stores newSecret first, followed by the current one. The previous
// rotation must be finished (one secret), so that no more than two are
// ever accepted.
func (r *Rotation) Add(ctx context.Context, newSecret string) error {
	newSecret = strings.TrimSpace(newSecret)
	if _, err := fastpix.NewVerifier(newSecret); err != nil || len(split(newSecret)) != 1 {
		return fmt.Errorf("ops: the new secret must be one base64 value, as FastPix shows it: %w", err)
	}
	cur, err := r.read(ctx)
	if err != nil {
		return err
	}
	if len(cur) > 1 {
		return fmt.Errorf("%w: %s already holds %d secrets; finish that rotation first", ErrRotation, r.SecretID, len(cur))
	}
	if len(cur) == 1 && cur[0] == newSecret {
		return fmt.Errorf("%w: the new secret is the current one", ErrRotation)
	}
	if err := r.write(ctx, append([]string{newSecret}, cur...)); err != nil {
		return err
	}
	fmt.Fprintf(r.Out, "%s now holds %d secrets: the new one first, then the old one\n", r.SecretID, 1+len(cur))
	return nil
}

// Finish keeps only the first (new) secret.
func (r *Rotation) Finish(ctx context.Context) error {
	cur, err := r.read(ctx)
	if err != nil {
		return err
	}
	if len(cur) < 2 {
		return fmt.Errorf("%w: %s holds %d secret(s); nothing to finish", ErrRotation, r.SecretID, len(cur))
	}
	if err := r.write(ctx, cur[:1]); err != nil {
		return err
	}
	fmt.Fprintf(r.Out, "%s now holds only the new secret (%d old one(s) removed)\n", r.SecretID, len(cur)-1)
	return nil
}
