package fastpix

import (
	"encoding/json"
	"errors"
	"strings"
)

// Redacted replaces the value of every credential field.
const Redacted = "[redacted]"

// ErrNotJSON: Redact was given bytes that are not one JSON document.
var ErrNotJSON = errors.New("fastpix: not a JSON document")

// credentialFields are the fields whose values let anyone broadcast on a
// stream, normalised by credentialKey. FastPix's docs misspell srtSecret as
// srtSecert, and both spellings are treated alike.
var credentialFields = map[string]bool{
	"streamkey":         true,
	"srtsecret":         true,
	"srtsecert":         true,
	"srtplaybacksecret": true,
}

// IsCredentialField reports whether a JSON field name holds a credential,
// ignoring case, '_' and '-' (so stream_key and StreamKey count too).
func IsCredentialField(name string) bool {
	return credentialFields[credentialKey(name)]
}

func credentialKey(name string) string {
	if len(name) > 32 {
		return ""
	}
	var b [32]byte
	n := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_' || c == '-':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b[n] = c
		n++
	}
	return string(b[:n])
}

// Redact returns a copy of the JSON document doc in which the value of every
// credential field (streamKey, srtSecret, srtPlaybackSecret; see
// IsCredentialField), at any depth, is replaced by the string "[redacted]".
// A null value stays null, so a reader can tell "none" from "hidden".
//
// Everything else is kept byte for byte, field order and spacing included,
// so the stored payload reads like the one FastPix sent.
func Redact(doc []byte) ([]byte, error) {
	if !json.Valid(doc) {
		return nil, ErrNotJSON
	}
	out := make([]byte, 0, len(doc))
	last := 0 // doc[last:] is not yet copied to out
	for i := 0; i < len(doc); i++ {
		if doc[i] != '"' {
			continue
		}
		end := stringEnd(doc, i)
		j := skipSpace(doc, end)
		if j >= len(doc) || doc[j] != ':' {
			// A string value, not a key.
			i = end - 1
			continue
		}
		if !isCredentialKey(doc[i+1 : end-1]) {
			i = j
			continue
		}
		v := skipSpace(doc, j+1)
		vend := valueEnd(doc, v)
		if string(doc[v:vend]) != "null" {
			out = append(out, doc[last:v]...)
			out = append(out, '"')
			out = append(out, Redacted...)
			out = append(out, '"')
			last = vend
		}
		i = vend - 1
	}
	return append(out, doc[last:]...), nil
}

func isCredentialKey(raw []byte) bool {
	// credentialKey takes names of at most 32 bytes; escaped, each byte of
	// one takes at most 6 ("\u0073"), so a longer raw key is never one.
	if len(raw) > 6*32 {
		return false
	}
	for _, c := range raw {
		if c == '\\' {
			// An escaped key ("stream\u004bey") is unquoted before matching.
			var s string
			if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s) != nil {
				return false
			}
			return IsCredentialField(s)
		}
	}
	return credentialFields[credentialKey(string(raw))]
}

// stringEnd returns the index just past the string starting at doc[i] == '"'.
// doc is valid JSON.
func stringEnd(doc []byte, i int) int {
	for j := i + 1; j < len(doc); j++ {
		switch doc[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(doc)
}

func skipSpace(doc []byte, i int) int {
	for i < len(doc) && (doc[i] == ' ' || doc[i] == '\t' || doc[i] == '\n' || doc[i] == '\r') {
		i++
	}
	return i
}

// valueEnd returns the index just past the JSON value starting at doc[i].
// doc is valid JSON.
func valueEnd(doc []byte, i int) int {
	if i >= len(doc) {
		return i
	}
	switch doc[i] {
	case '"':
		return stringEnd(doc, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(doc); j++ {
			switch doc[j] {
			case '"':
				j = stringEnd(doc, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(doc)
	default:
		j := i
		for j < len(doc) && !strings.ContainsRune(",}] \t\n\r", rune(doc[j])) {
			j++
		}
		return j
	}
}
