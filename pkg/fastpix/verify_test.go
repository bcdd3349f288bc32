package fastpix

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

const demoSecret = "ZGVtby1zZWNyZXQ=" // base64 of "demo-secret", from FASTPIX.md

// The test vectors of FASTPIX.md.
func TestVerifyVectors(t *testing.T) {
	v, err := NewVerifier(demoSecret)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		body []byte
		sig  string
	}{
		{"media ready", []byte(`{"type":"video.media.ready","data":{"id":"abc-123"}}`), "SXTZYhjRshplUTerYmYX0D3d2LSTG3PWD2lY6XFLzd0="},
		{"seed fixture, trailing newline included", readFixture(t, "seed-live_stream.created-1.json"), "386OJAmZ1Q5wzaARoxGyq44I6q0AW9Xp4lveqZHyftc="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := v.Verify(tt.body, tt.sig); err != nil {
				t.Errorf("Verify = %v", err)
			}
			got, err := Sign(demoSecret, tt.body)
			if err != nil || got != tt.sig {
				t.Errorf("Sign = %q, %v; want %q", got, err, tt.sig)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	body := []byte(`{"type":"video.media.ready","data":{"id":"abc-123"}}`)
	good := "SXTZYhjRshplUTerYmYX0D3d2LSTG3PWD2lY6XFLzd0="
	raw, _ := base64.StdEncoding.DecodeString(good)
	flipped := append([]byte(nil), raw...)
	flipped[0] ^= 1
	other, _ := Sign(base64.StdEncoding.EncodeToString([]byte("other-secret")), body)
	v, _ := NewVerifier(demoSecret)

	tests := []struct {
		name string
		body []byte
		sig  string
		want error
	}{
		{"empty header", body, "", ErrMissingSignature},
		{"blank header", body, "   ", ErrMissingSignature},
		{"one bit flipped", body, base64.StdEncoding.EncodeToString(flipped), ErrInvalidSignature},
		{"truncated", body, good[:20], ErrInvalidSignature},
		{"without padding", body, good[:len(good)-1], ErrInvalidSignature},
		{"hex instead of base64", body, hex.EncodeToString(raw), ErrInvalidSignature},
		{"prefixed", body, "sha256=" + good, ErrInvalidSignature},
		{"doubled", body, good + good, ErrInvalidSignature},
		{"other secret", body, other, ErrInvalidSignature},
		{"body with a newline added", append(append([]byte(nil), body...), '\n'), good, ErrInvalidSignature},
		{"body re-serialised with spaces", []byte(`{"type": "video.media.ready", "data": {"id": "abc-123"}}`), good, ErrInvalidSignature},
		{"not base64", body, "!!!!", ErrInvalidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := v.Verify(tt.body, tt.sig); !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
	// White space around the value is not part of it.
	if err := v.Verify(body, " "+good+"\t"); err != nil {
		t.Errorf("padded header: %v", err)
	}
}

// During a rotation both the new and the previous secret verify.
func TestVerifyRotation(t *testing.T) {
	body := []byte(`{"id":"e1","type":"video.live_stream.active"}`)
	next := base64.StdEncoding.EncodeToString([]byte("next-secret"))
	retired := base64.StdEncoding.EncodeToString([]byte("retired-secret"))
	sigOld, _ := Sign(demoSecret, body)
	sigNew, _ := Sign(next, body)
	sigRetired, _ := Sign(retired, body)

	for _, secrets := range [][]string{{next + "," + demoSecret}, {next, demoSecret}, {" " + next + " ,\n" + demoSecret + " "}} {
		v, err := NewVerifier(secrets...)
		if err != nil {
			t.Fatalf("NewVerifier(%q): %v", secrets, err)
		}
		if v.Secrets() != 2 {
			t.Errorf("Secrets() = %d, want 2", v.Secrets())
		}
		if err := v.Verify(body, sigOld); err != nil {
			t.Errorf("previous secret: %v", err)
		}
		if err := v.Verify(body, sigNew); err != nil {
			t.Errorf("new secret: %v", err)
		}
		if err := v.Verify(body, sigRetired); !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("retired secret: %v", err)
		}
	}
}

func TestNewVerifierErrors(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		want    error
	}{
		{"none", nil, ErrNoSecret},
		{"empty", []string{""}, ErrNoSecret},
		{"only separators", []string{" , ,"}, ErrNoSecret},
		{"not base64", []string{"not base64!"}, ErrBadSecret},
		{"one good, one bad", []string{demoSecret + ",%%%"}, ErrBadSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewVerifier(tt.secrets...)
			if !errors.Is(err, tt.want) {
				t.Errorf("NewVerifier = %v, want %v", err, tt.want)
			}
		})
	}
	// The error never repeats the secret.
	_, err := NewVerifier("c2VjcmV0LXZhbHVl!")
	if err == nil || strings.Contains(err.Error(), "c2VjcmV0LXZhbHVl") {
		t.Errorf("error %v leaks the secret", err)
	}
}
