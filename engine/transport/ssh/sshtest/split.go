package sshtest

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnsupportedShell reports a command line that uses shell features the
// splitter deliberately does not implement (expansions, operators, globs...).
// transport.Quote never produces them, so a handler seeing this error means
// some code built shell text by hand.
var ErrUnsupportedShell = errors.New("unsupported shell syntax")

// SplitCommand splits a POSIX sh command line into argv, inverting
// transport.Quote. It understands blanks, single quotes, double quotes (where
// only \$ \` \" \\ and \newline are escapes) and backslash escapes, and refuses
// anything a real shell would expand or interpret: unquoted | & ; < > ( ) $ `
// * ? [ ] { } ! newline, '#' or '~' at the start of a word, $ or ` inside
// double quotes, and a NAME=value first word (an assignment).
func SplitCommand(cmdline string) ([]string, error) {
	var (
		argv   []string
		cur    strings.Builder
		inWord bool
		quoted bool // the current word had a quote, so NAME=value is not an assignment
		i      int
		n      = len(cmdline)
		bad    = func(what string) error {
			return fmt.Errorf("%w: %s at byte %d of %q", ErrUnsupportedShell, what, i, cmdline)
		}
		endWord = func() error {
			if !inWord {
				return nil
			}
			w := cur.String()
			if len(argv) == 0 && !quoted && isAssignment(w) {
				return fmt.Errorf("%w: assignment %q in command position", ErrUnsupportedShell, w)
			}
			argv = append(argv, w)
			cur.Reset()
			inWord, quoted = false, false
			return nil
		}
	)
	for i < n {
		c := cmdline[i]
		switch {
		case c == 0:
			return nil, bad("NUL byte")
		case c == ' ' || c == '\t':
			if err := endWord(); err != nil {
				return nil, err
			}
			i++
		case c == '\'':
			j := strings.IndexByte(cmdline[i+1:], '\'')
			if j < 0 {
				return nil, bad("unterminated single quote")
			}
			cur.WriteString(cmdline[i+1 : i+1+j])
			inWord, quoted = true, true
			i += j + 2
		case c == '"':
			i++
			closed := false
			for i < n && !closed {
				d := cmdline[i]
				switch d {
				case '"':
					closed = true
					i++
				case '\\':
					if i+1 < n && strings.IndexByte("$`\"\\\n", cmdline[i+1]) >= 0 {
						if cmdline[i+1] != '\n' { // \newline is a line continuation
							cur.WriteByte(cmdline[i+1])
						}
						i += 2
					} else {
						cur.WriteByte('\\')
						i++
					}
				case '$', '`':
					return nil, bad(fmt.Sprintf("expansion %q inside double quotes", d))
				case 0:
					return nil, bad("NUL byte")
				default:
					cur.WriteByte(d)
					i++
				}
			}
			if !closed {
				return nil, bad("unterminated double quote")
			}
			inWord, quoted = true, true
		case c == '\\':
			if i+1 >= n {
				return nil, bad("trailing backslash")
			}
			if cmdline[i+1] != '\n' {
				cur.WriteByte(cmdline[i+1])
				inWord, quoted = true, true
			}
			i += 2
		case strings.IndexByte("|&;<>()$`*?[]{}!\n\r", c) >= 0:
			return nil, bad(fmt.Sprintf("unquoted %q", c))
		case (c == '#' || c == '~') && !inWord:
			return nil, bad(fmt.Sprintf("unquoted %q at the start of a word", c))
		default:
			cur.WriteByte(c)
			inWord = true
			i++
		}
	}
	if err := endWord(); err != nil {
		return nil, err
	}
	return argv, nil
}

// isAssignment reports whether w has the form NAME=..., which sh treats as a
// variable assignment in command position.
func isAssignment(w string) bool {
	eq := strings.IndexByte(w, '=')
	if eq <= 0 {
		return false
	}
	for k := 0; k < eq; k++ {
		c := w[k]
		if c != '_' && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(k > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
