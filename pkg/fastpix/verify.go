package fastpix

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// SignatureHeader is the header FastPix signs deliveries with. HTTP header
// names are case-insensitive; API Gateway's payload v2 lower-cases them.
const SignatureHeader = "FastPix-Signature"

// Errors returned by NewVerifier and Verify. Callers branch on them with
// errors.Is.
var (
	// ErrNoSecret: no signing secret was configured. A receiver without one
	// must refuse events, never accept them unsigned.
	ErrNoSecret = errors.New("fastpix: no signing secret configured")
	// ErrBadSecret: a configured secret is not base64, as the dashboard's are.
	ErrBadSecret = errors.New("fastpix: signing secret is not valid base64")
	// ErrMissingSignature: the delivery carries no signature.
	ErrMissingSignature = errors.New("fastpix: missing signature")
	// ErrInvalidSignature: the signature matches none of the secrets.
	ErrInvalidSignature = errors.New("fastpix: invalid signature")
)

// Verifier checks FastPix-Signature values. Build it once from the signing
// secrets and share it: it is safe for concurrent use.
//
// FastPix signs with one secret at a time, but a receiver keeps accepting
// the previous one for a while after a rotation; so a Verifier holds one or
// more secrets and accepts a signature made with any of them.
type Verifier struct {
	keys [][]byte
}

// NewVerifier builds a Verifier from base64 signing secrets as the FastPix
// dashboard shows them. Each argument may itself hold several secrets
// separated by commas (white space around each is ignored).
//
// A secret that is not base64 is left out and reported: the error wraps
// ErrBadSecret and names its position (never its value), and the Verifier
// returned beside it holds the valid ones. A caller that validates what an
// operator typed refuses on any error; a receiver keeps verifying with the
// good secrets, so one bad element of "new,old" does not make it refuse
// every delivery. With no valid secret the Verifier is nil.
func NewVerifier(secrets ...string) (*Verifier, error) {
	v := &Verifier{}
	var bad []string
	n := 0
	for _, field := range secrets {
		for s := range strings.SplitSeq(field, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			n++
			key, err := decodeBase64(s)
			if err != nil || len(key) == 0 {
				// The secret itself is never part of the message.
				bad = append(bad, fmt.Sprintf("secret %d", n))
				continue
			}
			v.keys = append(v.keys, key)
		}
	}
	var err error
	if len(bad) > 0 {
		err = fmt.Errorf("%w: %s of %d", ErrBadSecret, strings.Join(bad, ", "), n)
	}
	if len(v.keys) == 0 {
		if err == nil {
			err = ErrNoSecret
		}
		return nil, err
	}
	return v, err
}

// Secrets reports how many secrets the Verifier accepts.
func (v *Verifier) Secrets() int { return len(v.keys) }

// Verify checks header, the FastPix-Signature value, against payload, the
// raw body exactly as received: re-serialised JSON does not verify.
//
// The signature is base64(HMAC-SHA256(key, payload)) where key is the
// base64-decoded signing secret. The comparison takes constant time.
func (v *Verifier) Verify(payload []byte, header string) error {
	header = strings.TrimSpace(header)
	if header == "" {
		return ErrMissingSignature
	}
	// A SHA-256 MAC is 44 base64 characters; the buffer holds what those
	// decode to, and a longer header is wrong before it is decoded.
	var buf [36]byte
	if base64.StdEncoding.DecodedLen(len(header)) > len(buf) {
		return ErrInvalidSignature
	}
	n, err := base64.StdEncoding.Decode(buf[:], []byte(header))
	if err != nil || n != sha256.Size {
		return ErrInvalidSignature
	}
	got := buf[:sha256.Size]
	ok := 0
	for _, key := range v.keys {
		mac := hmac.New(sha256.New, key)
		mac.Write(payload)
		var want [sha256.Size]byte
		// Every key is tried, so the time taken does not tell which matched.
		if hmac.Equal(mac.Sum(want[:0]), got) {
			ok = 1
		}
	}
	if ok == 0 {
		return ErrInvalidSignature
	}
	return nil
}

// Sign returns the FastPix-Signature value for payload under one base64
// secret, as FastPix computes it. Senders in tests and local tools use it.
func Sign(secret string, payload []byte) (string, error) {
	key, err := decodeBase64(strings.TrimSpace(secret))
	if err != nil || len(key) == 0 {
		return "", ErrBadSecret
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(payload)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// decodeBase64 accepts the secret with or without padding.
func decodeBase64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}
