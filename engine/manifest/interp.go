package manifest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/lxcplan/lxcplan/engine/diag"
)

var (
	envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`)
	// refRe is the syntax of an apply-time reference: dotted names such as
	// containers.db.ip or params.password.
	refRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)+$`)
)

// interpolator expands Compose-style ${VAR} expressions in stack strings.
type interpolator struct {
	env    map[string]string
	file   string
	ds     diag.Diagnostics
	warned map[string]bool
	seen   map[*yaml.Node]bool
}

func newInterpolator(file string, env map[string]string) *interpolator {
	return &interpolator{env: env, file: file, warned: map[string]bool{}, seen: map[*yaml.Node]bool{}}
}

// walk interpolates every value scalar under n (mapping keys are left as
// written, as Compose does).
func (ip *interpolator) walk(n *yaml.Node, path string) {
	if n == nil || ip.seen[n] {
		return
	}
	ip.seen[n] = true
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			ip.walk(c, path)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			ip.walk(n.Content[i+1], joinPath(path, n.Content[i].Value))
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			ip.walk(c, path+"["+strconv.Itoa(i)+"]")
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") || n.ShortTag() != "!!str" {
			return
		}
		pos := diag.Pos{File: ip.file, Line: n.Line, Col: n.Column}
		out, ok := ip.expand(n.Value, pos, path)
		if ok && out != n.Value {
			n.Value = out
			retype(n)
		}
	}
}

func joinPath(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// expand interpolates s; ok is false when it reported an error.
func (ip *interpolator) expand(s string, pos diag.Pos, path string) (string, bool) {
	var b strings.Builder
	ok := true
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		switch next := s[i+1]; {
		case next == '$':
			b.WriteByte('$')
			i += 2
		case next == '{':
			end := matchBrace(s, i+2)
			if end < 0 {
				ip.errorf(pos, path, "unterminated ${ in %q: add the closing } (write $$ for a literal $)", s)
				return s, false
			}
			v, good := ip.braced(s[i+2:end], pos, path)
			ok = ok && good
			b.WriteString(v)
			i = end + 1
		case next == '_' || isLetter(next):
			name := envNameRe.FindString(s[i+1:])
			b.WriteString(ip.lookup(name, pos, path))
			i += 1 + len(name)
		default:
			// A lone $ (e.g. "pa$5word") stays literal.
			b.WriteByte('$')
			i++
		}
	}
	return b.String(), ok
}

// matchBrace returns the index of the } closing a ${ whose body starts at
// from, honouring nested ${...}; -1 if there is none.
func matchBrace(s string, from int) int {
	depth := 0
	for j := from; j < len(s); j++ {
		switch {
		case s[j] == '$' && j+1 < len(s) && s[j+1] == '{':
			depth++
			j++
		case s[j] == '}':
			if depth == 0 {
				return j
			}
			depth--
		}
	}
	return -1
}

func (ip *interpolator) braced(inner string, pos diag.Pos, path string) (string, bool) {
	name := envNameRe.FindString(inner)
	if name != "" && len(inner) > len(name) && inner[len(name)] == '.' {
		// A dotted name is an apply-time reference: keep it as written.
		if !refRe.MatchString(inner) {
			ip.errorf(pos, path, "invalid reference ${%s}: a reference is dotted names like ${containers.db.ip} with no default or message", inner)
			return "${" + inner + "}", false
		}
		return "${" + inner + "}", true
	}
	if name == "" {
		ip.errorf(pos, path, "invalid variable name in ${%s}", inner)
		return "", false
	}
	rest := inner[len(name):]
	val, set := ip.env[name]
	switch {
	case rest == "":
		return ip.lookup(name, pos, path), true
	case strings.HasPrefix(rest, ":-"), strings.HasPrefix(rest, "-"):
		colon := rest[0] == ':'
		arg := strings.TrimPrefix(strings.TrimPrefix(rest, ":"), "-")
		if set && (!colon || val != "") {
			return val, true
		}
		return ip.expand(arg, pos, path)
	case strings.HasPrefix(rest, ":?"), strings.HasPrefix(rest, "?"):
		colon := rest[0] == ':'
		arg := strings.TrimPrefix(strings.TrimPrefix(rest, ":"), "?")
		if set && (!colon || val != "") {
			return val, true
		}
		msg, _ := ip.expand(arg, pos, path)
		if msg == "" {
			msg = "it is required"
		}
		state := "not set"
		if set {
			state = "empty"
		}
		ip.errorf(pos, path, "variable %s is %s: %s", name, state, msg)
		return "", false
	case strings.HasPrefix(rest, ":+"), strings.HasPrefix(rest, "+"):
		colon := rest[0] == ':'
		arg := strings.TrimPrefix(strings.TrimPrefix(rest, ":"), "+")
		if set && (!colon || val != "") {
			return ip.expand(arg, pos, path)
		}
		return "", true
	}
	ip.errorf(pos, path, "invalid interpolation ${%s}: use ${VAR}, ${VAR:-default} or ${VAR:?message}", inner)
	return "", false
}

func (ip *interpolator) lookup(name string, pos diag.Pos, path string) string {
	v, ok := ip.env[name]
	if !ok && !ip.warned[name] {
		ip.warned[name] = true
		ip.ds = append(ip.ds, diag.Warnf(pos, path, "variable %s is not set; using an empty string", name))
	}
	return v
}

func (ip *interpolator) errorf(pos diag.Pos, path, format string, args ...any) {
	ip.ds = append(ip.ds, diag.Errorf(diag.ClassInput, pos, path, format, args...))
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// loadDotEnv reads KEY=VALUE lines from a .env file; a missing file is no
// problem.
func loadDotEnv(path string) (map[string]string, diag.Diagnostics) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, inputErr(diag.Pos{File: path}, "", "cannot read file: %v", unwrapPathErr(err))
	}
	if len(data) > MaxFileSize {
		return nil, inputErr(diag.Pos{File: path}, "", "file is too large (more than %d bytes)", MaxFileSize)
	}
	return parseDotEnv(path, data)
}

func parseDotEnv(file string, data []byte) (map[string]string, diag.Diagnostics) {
	env := map[string]string{}
	var ds diag.Diagnostics
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), MaxFileSize+1)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		text = strings.TrimPrefix(text, "export ")
		key, val, found := strings.Cut(text, "=")
		key = strings.TrimSpace(key)
		if !found || !envNameRe.MatchString(key) || envNameRe.FindString(key) != key {
			ds = append(ds, diag.Errorf(diag.ClassInput, diag.Pos{File: file, Line: line, Col: 1}, "", "invalid line: expected KEY=VALUE"))
			continue
		}
		v, err := dotEnvValue(strings.TrimSpace(val))
		if err != nil {
			ds = append(ds, diag.Errorf(diag.ClassInput, diag.Pos{File: file, Line: line, Col: 1}, key, "%v", err))
			continue
		}
		env[key] = v
	}
	if err := sc.Err(); err != nil {
		ds = append(ds, diag.Errorf(diag.ClassInput, diag.Pos{File: file}, "", "cannot read file: %v", err))
	}
	return env, ds
}

func dotEnvValue(v string) (string, error) {
	switch {
	case strings.HasPrefix(v, `"`):
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			switch c := v[i]; c {
			case '"':
				return b.String(), nil
			case '\\':
				if i+1 < len(v) {
					i++
					switch v[i] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					case 'r':
						b.WriteByte('\r')
					default:
						b.WriteByte(v[i])
					}
				}
			default:
				b.WriteByte(c)
			}
		}
		return "", fmt.Errorf("unterminated double quote")
	case strings.HasPrefix(v, `'`):
		end := strings.IndexByte(v[1:], '\'')
		if end < 0 {
			return "", fmt.Errorf("unterminated single quote")
		}
		return v[1 : 1+end], nil
	}
	if i := strings.Index(v, " #"); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	return v, nil
}
