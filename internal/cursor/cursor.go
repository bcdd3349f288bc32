// Package cursor is the encoding of the query API's page cursors: JSON,
// base64url without padding. A cursor is opaque to clients, and whatever
// comes back is read strictly (no unknown field, one value) before its
// owner checks what it says and makes a DynamoDB key of it.
package cursor

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrMalformed: the text is not a cursor this package wrote.
var ErrMalformed = errors.New("malformed cursor")

// Encode writes v (a struct of plain fields, which always marshals).
func Encode(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode reads s into v; padding a client may have added is accepted.
func Decode(s string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return fmt.Errorf("%w: not base64url", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || dec.More() {
		return fmt.Errorf("%w: not a cursor", ErrMalformed)
	}
	return nil
}
