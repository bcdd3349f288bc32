package ops_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/streamhook/fastpix-receiver/infra/ops"
	"github.com/streamhook/fastpix-receiver/pkg/fastpix"
	"github.com/streamhook/fastpix-receiver/pkg/secrets"
)

// fakeSecrets is Secrets Manager's one secret (no local emulator of it).
type fakeSecrets struct{ value string }

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(f.value)}, nil
}

func (f *fakeSecrets) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	f.value = aws.ToString(in.SecretString)
	return &secretsmanager.PutSecretValueOutput{}, nil
}

// The webhook, loading the secret at each step, accepts what FastPix signs
// at that step: the old secret until FastPix is switched, both while it
// switches, the new one after.
func TestRotation(t *testing.T) {
	const oldSecret, newSecret = "b2xkLXNlY3JldA==", "bmV3LXNlY3JldA==" // "old-secret", "new-secret"
	sm := &fakeSecrets{value: oldSecret}
	var out bytes.Buffer
	r := &ops.Rotation{Client: sm, SecretID: "arn:aws:secretsmanager:us-east-1:1:secret:webhook", Out: &out}
	ctx := context.Background()
	body := []byte(`{"id":"e1","type":"video.live_stream.active"}`)
	accepts := func(signedWith string) bool {
		t.Helper()
		loaded, err := secrets.FromSecretsManager(sm, r.SecretID)(ctx)
		if err != nil {
			t.Fatal(err)
		}
		v, err := fastpix.NewVerifier(loaded...)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := fastpix.Sign(signedWith, body)
		if err != nil {
			t.Fatal(err)
		}
		return v.Verify(body, sig) == nil
	}

	steps := []struct {
		name                 string
		do                   func() error
		wantErr              error
		acceptOld, acceptNew bool
	}{
		{"before", func() error { return r.Status(ctx) }, nil, true, false},
		{"a bad new secret is refused", func() error { return r.Add(ctx, "not base64!") }, nil, true, false},
		{"the current one is no new one", func() error { return r.Add(ctx, oldSecret) }, ops.ErrRotation, true, false},
		{"nothing to finish yet", func() error { return r.Finish(ctx) }, ops.ErrRotation, true, false},
		{"add", func() error { return r.Add(ctx, newSecret+"\n") }, nil, true, true},
		{"no second rotation on top", func() error { return r.Add(ctx, "dGhpcmQ=") }, ops.ErrRotation, true, true},
		{"status during", func() error { return r.Status(ctx) }, nil, true, true},
		{"finish", func() error { return r.Finish(ctx) }, nil, false, true},
	}
	for _, s := range steps {
		err := s.do()
		switch {
		case s.name == "a bad new secret is refused":
			if err == nil {
				t.Errorf("%s: accepted", s.name)
			}
		case s.wantErr != nil && !errors.Is(err, s.wantErr):
			t.Errorf("%s: err %v, want %v", s.name, err, s.wantErr)
		case s.wantErr == nil && err != nil:
			t.Errorf("%s: %v", s.name, err)
		}
		if got := accepts(oldSecret); got != s.acceptOld {
			t.Errorf("%s: old secret accepted = %v", s.name, got)
		}
		if got := accepts(newSecret); got != s.acceptNew {
			t.Errorf("%s: new secret accepted = %v", s.name, got)
		}
	}
	if sm.value != newSecret {
		t.Errorf("secret ends as a value of %d bytes, want the new secret alone", len(sm.value))
	}
	for _, v := range []string{oldSecret, newSecret, "old-secret", "new-secret"} {
		if strings.Contains(out.String(), v) {
			t.Errorf("output shows a secret:\n%s", out.String())
		}
	}
	if !strings.Contains(out.String(), "a rotation is in progress") {
		t.Errorf("status during the rotation:\n%s", out.String())
	}
}
