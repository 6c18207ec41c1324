package transport

import "strings"

// Quote joins argv into one POSIX sh command line that the shell splits back
// into exactly argv, with no expansion of any kind. It is the project's only
// shell-quoting function: OpenSSH runs the exec request through the user's
// login shell, so this string is what that shell parses.
//
// Words made only of characters that no POSIX shell treats specially stay
// bare (so traces read like a terminal); everything else is single-quoted,
// with embedded single quotes written as '\”. The empty word becomes ”.
func Quote(argv []string) string {
	var b strings.Builder
	for i, w := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		quoteWord(&b, w, i == 0)
	}
	return b.String()
}

// QuoteArg quotes one word as an argument (not in command position).
func QuoteArg(w string) string {
	var b strings.Builder
	quoteWord(&b, w, false)
	return b.String()
}

func quoteWord(b *strings.Builder, w string, first bool) {
	if isBare(w, first) {
		b.WriteString(w)
		return
	}
	b.WriteByte('\'')
	for i := 0; i < len(w); i++ {
		if w[i] == '\'' {
			b.WriteString(`'\''`)
		} else {
			b.WriteByte(w[i])
		}
	}
	b.WriteByte('\'')
}

// isBare reports whether w can be written without quotes. '=' is safe except
// in command position, where NAME=value would be an assignment; '~' and '#'
// are left out entirely because they are special at the start of a word.
func isBare(w string, first bool) bool {
	if w == "" {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.', c == '/', c == ',', c == ':', c == '@', c == '%', c == '+':
		case c == '=' && !first:
		default:
			return false
		}
	}
	return true
}
