package secrets

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

type fakeSM struct {
	value string
	err   error
	calls int
	asked string
}

func (f *fakeSM) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.calls++
	f.asked = aws.ToString(in.SecretId)
	if f.err != nil {
		return nil, f.err
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(f.value)}, nil
}

func TestSource(t *testing.T) {
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:fastpix-AbCdEf"
	tests := []struct {
		name       string
		env        map[string]string
		sm         *fakeSM
		want       []string
		wantErr    error
		wantClient bool
	}{
		{name: "value for local runs", env: map[string]string{EnvSecret: "c2Vj"}, want: []string{"c2Vj"}},
		{name: "nothing set", env: map[string]string{}, wantErr: ErrEmpty},
		{name: "secrets manager wins", env: map[string]string{EnvSecretARN: arn, EnvSecret: "ignored"}, sm: &fakeSM{value: "bmV3,b2xk"}, want: []string{"bmV3,b2xk"}, wantClient: true},
		{name: "secret not filled in", env: map[string]string{EnvSecretARN: arn}, sm: &fakeSM{value: ""}, wantErr: ErrEmpty, wantClient: true},
		{name: "secrets manager down", env: map[string]string{EnvSecretARN: arn}, sm: &fakeSM{err: errors.New("throttled")}, wantClient: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := SourceFromEnv(func(k string) string { return tt.env[k] })
			if src.Configured() != (len(tt.env) > 0) {
				t.Errorf("Configured() = %v for %v", src.Configured(), tt.env)
			}
			made := false
			load := src.Loader(func() GetSecretValueAPI { made = true; return tt.sm })
			got, err := load(context.Background())
			if made != tt.wantClient {
				t.Errorf("client made = %v", made)
			}
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
			case tt.want == nil:
				if err == nil || !strings.Contains(err.Error(), arn) {
					t.Errorf("err = %v, want one naming the secret", err)
				}
			default:
				if err != nil || strings.Join(got, "|") != strings.Join(tt.want, "|") {
					t.Errorf("= %q, %v", got, err)
				}
			}
			if tt.sm != nil && tt.sm.asked != arn {
				t.Errorf("asked for %q", tt.sm.asked)
			}
		})
	}
}
