package ops

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The operator's commands print what the tables hold: event ids, types,
// error messages naming them. Those come from FastPix's payloads (or, in
// an old table, from whoever wrote it), so they are printed escaped: a
// newline cannot forge a line of a report, an escape sequence or a
// right-to-left override cannot drive or disguise the operator's terminal.

// quoted is s in double quotes with Go's escapes for anything not
// printable, cut to about max bytes (with the length it had) so that a
// 1 KB id does not drown a report.
func quoted(s string, max int) string {
	if len(s) <= max {
		return strconv.QuoteToGraphic(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.QuoteToGraphic(s[:cut]) + fmt.Sprintf("…(%d bytes)", len(s))
}

// escaped is s with each character that is not printable (control and
// format characters, invalid UTF-8) written as its Go escape, the rest
// as it is: ordinary text reads unchanged.
func escaped(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsGraphic(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i, w := 0, 0; i < len(s); i += w {
		r, size := utf8.DecodeRuneInString(s[i:])
		w = size
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !unicode.IsGraphic(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
