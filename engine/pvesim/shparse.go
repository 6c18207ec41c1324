package pvesim

import (
	"errors"
	"fmt"
	"strings"
)

// This file parses the POSIX sh subset the memory node's host shell runs
// (see [shell] for what it executes). The lexer only finds word boundaries
// and keeps each word's raw text; quotes and expansions are resolved when
// the word is expanded, as sh does.

type tokKind int

const (
	tokWord  tokKind = iota
	tokOp            // ; & && || | ( ) ;;
	tokRedir         // < > >> >& <& <> >| with an optional io number
	tokNewline
	tokEOF
)

type token struct {
	kind tokKind
	val  string // raw word text or operator
	fd   int    // io number of a redirect, -1 for the default
}

var errShSyntax = errors.New("syntax error")

func shSyntax(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errShSyntax, fmt.Sprintf(format, args...))
}

func isShMeta(c byte) bool {
	return strings.IndexByte(" \t\n;&|<>()", c) >= 0
}

// lexSh splits script into tokens.
func lexSh(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '\\' && i+1 < len(s) && s[i+1] == '\n':
			i += 2
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '\n':
			toks = append(toks, token{kind: tokNewline})
			i++
		case c == '<' || c == '>':
			op, n := lexRedirOp(s[i:])
			toks = append(toks, token{kind: tokRedir, val: op, fd: -1})
			i += n
		case c == ';' || c == '&' || c == '|' || c == '(' || c == ')':
			op := string(c)
			if i+1 < len(s) && (s[i:i+2] == "&&" || s[i:i+2] == "||" || s[i:i+2] == ";;") {
				op = s[i : i+2]
			}
			toks = append(toks, token{kind: tokOp, val: op})
			i += len(op)
		default:
			j, err := scanWord(s, i)
			if err != nil {
				return nil, err
			}
			w := s[i:j]
			if j < len(s) && (s[j] == '<' || s[j] == '>') && strings.Trim(w, "0123456789") == "" && len(w) < 3 {
				op, n := lexRedirOp(s[j:])
				fd := 0
				for _, d := range w {
					fd = fd*10 + int(d-'0')
				}
				toks = append(toks, token{kind: tokRedir, val: op, fd: fd})
				i = j + n
				continue
			}
			toks = append(toks, token{kind: tokWord, val: w})
			i = j
		}
	}
	return append(toks, token{kind: tokEOF}), nil
}

func lexRedirOp(s string) (string, int) {
	for _, op := range []string{">>", ">&", ">|", "<&", "<>", "<<", ">", "<"} {
		if strings.HasPrefix(s, op) {
			return op, len(op)
		}
	}
	return s[:1], 1
}

// scanWord returns the end of the word starting at i.
func scanWord(s string, i int) (int, error) {
	for i < len(s) {
		c := s[i]
		switch {
		case isShMeta(c):
			return i, nil
		case c == '\\':
			i += 2
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return 0, shSyntax("unterminated quoted string")
			}
			i += j + 2
		case c == '"':
			j, err := scanDquote(s, i+1)
			if err != nil {
				return 0, err
			}
			i = j
		case c == '`':
			j := strings.IndexByte(s[i+1:], '`')
			if j < 0 {
				return 0, shSyntax("unterminated `")
			}
			i += j + 2
		case c == '$' && i+1 < len(s) && (s[i+1] == '(' || s[i+1] == '{'):
			j, err := scanNested(s, i+1)
			if err != nil {
				return 0, err
			}
			i = j
		default:
			i++
		}
	}
	if i > len(s) {
		i = len(s)
	}
	return i, nil
}

// scanDquote returns the index after the closing quote of a "..." whose
// content starts at i.
func scanDquote(s string, i int) (int, error) {
	for i < len(s) {
		switch c := s[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			i += 2
		case c == '`':
			j := strings.IndexByte(s[i+1:], '`')
			if j < 0 {
				return 0, shSyntax("unterminated `")
			}
			i += j + 2
		case c == '$' && i+1 < len(s) && (s[i+1] == '(' || s[i+1] == '{'):
			j, err := scanNested(s, i+1)
			if err != nil {
				return 0, err
			}
			i = j
		default:
			i++
		}
	}
	return 0, shSyntax("unterminated quoted string")
}

// scanNested returns the index after the bracket closing the one at s[i]
// ("(" or "{"), skipping quoted text and nested brackets.
func scanNested(s string, i int) (int, error) {
	open := s[i]
	closeCh := byte(')')
	if open == '{' {
		closeCh = '}'
	}
	depth := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == open:
			depth++
			i++
		case c == closeCh:
			depth--
			i++
			if depth == 0 {
				return i, nil
			}
		case c == '\\':
			i += 2
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return 0, shSyntax("unterminated quoted string")
			}
			i += j + 2
		case c == '"':
			j, err := scanDquote(s, i+1)
			if err != nil {
				return 0, err
			}
			i = j
		default:
			i++
		}
	}
	return 0, shSyntax("missing %q", string(closeCh))
}

// The syntax tree.

type shList struct{ items []*shAndOr }

type shAndOr struct {
	pipes []*shPipeline
	ops   []string // "&&" or "||" before pipes[i+1]
}

type shPipeline struct {
	neg  bool
	cmds []*shCommand
}

type shRedir struct {
	fd     int
	op     string
	target string // raw word
}

type shCommand struct {
	assigns []string // raw NAME=value words
	words   []string // raw words
	body    any      // *shIf, *shFor, *shWhile, *shCase, *shGroup for compound commands
	redirs  []shRedir
}

type shIf struct {
	conds, bodies []*shList
	els           *shList
}

type shFor struct {
	name  string
	words []string
	hasIn bool
	body  *shList
}

type shWhile struct {
	until      bool
	cond, body *shList
}

type shCaseItem struct {
	pats []string
	body *shList
}

type shCase struct {
	word  string
	items []shCaseItem
}

type shGroup struct {
	body     *shList
	subshell bool
}

type shParser struct {
	toks []token
	pos  int
}

func parseSh(script string) (*shList, error) {
	toks, err := lexSh(script)
	if err != nil {
		return nil, err
	}
	p := &shParser{toks: toks}
	l, err := p.list()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, shSyntax("%q unexpected", t.val)
	}
	return l, nil
}

func (p *shParser) peek() token { return p.toks[p.pos] }

func (p *shParser) next() token {
	t := p.toks[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

func (p *shParser) skipNewlines() {
	for p.peek().kind == tokNewline {
		p.pos++
	}
}

// isWord reports whether the next token is the unquoted word w (reserved
// words count only in command position, which is where this is asked).
func (p *shParser) isWord(w string) bool {
	t := p.peek()
	return t.kind == tokWord && t.val == w
}

func (p *shParser) expectWord(w string) error {
	p.skipNewlines()
	if !p.isWord(w) {
		t := p.peek()
		if t.kind == tokEOF {
			return shSyntax("end of file unexpected (expecting %q)", w)
		}
		return shSyntax("%q unexpected (expecting %q)", t.val, w)
	}
	p.pos++
	return nil
}

var shListEnd = map[string]bool{"then": true, "else": true, "elif": true, "fi": true, "do": true, "done": true, "esac": true, "}": true}

// list parses and-or lists separated by ; & or newlines, up to a reserved
// word that ends a list, ")", ";;" or the end.
func (p *shParser) list() (*shList, error) {
	l := &shList{}
	for {
		p.skipNewlines()
		t := p.peek()
		if t.kind == tokEOF || (t.kind == tokWord && shListEnd[t.val]) || (t.kind == tokOp && (t.val == ")" || t.val == ";;")) {
			return l, nil
		}
		ao, err := p.andOr()
		if err != nil {
			return nil, err
		}
		l.items = append(l.items, ao)
		t = p.peek()
		switch {
		case t.kind == tokOp && (t.val == ";" || t.val == "&"):
			p.pos++
		case t.kind == tokNewline:
		default:
			return l, nil
		}
	}
}

func (p *shParser) andOr() (*shAndOr, error) {
	ao := &shAndOr{}
	for {
		pl, err := p.pipeline()
		if err != nil {
			return nil, err
		}
		ao.pipes = append(ao.pipes, pl)
		t := p.peek()
		if t.kind != tokOp || (t.val != "&&" && t.val != "||") {
			return ao, nil
		}
		p.pos++
		ao.ops = append(ao.ops, t.val)
		p.skipNewlines()
	}
}

func (p *shParser) pipeline() (*shPipeline, error) {
	pl := &shPipeline{}
	if p.isWord("!") {
		p.pos++
		pl.neg = true
	}
	for {
		c, err := p.command()
		if err != nil {
			return nil, err
		}
		pl.cmds = append(pl.cmds, c)
		if t := p.peek(); t.kind != tokOp || t.val != "|" {
			return pl, nil
		}
		p.pos++
		p.skipNewlines()
	}
}

func (p *shParser) command() (*shCommand, error) {
	c := &shCommand{}
	t := p.peek()
	var err error
	switch {
	case t.kind == tokWord && t.val == "if":
		p.pos++
		c.body, err = p.ifClause()
	case t.kind == tokWord && t.val == "for":
		p.pos++
		c.body, err = p.forClause()
	case t.kind == tokWord && (t.val == "while" || t.val == "until"):
		p.pos++
		c.body, err = p.whileClause(t.val == "until")
	case t.kind == tokWord && t.val == "case":
		p.pos++
		c.body, err = p.caseClause()
	case t.kind == tokWord && t.val == "{":
		p.pos++
		var body *shList
		if body, err = p.list(); err == nil {
			err = p.expectWord("}")
		}
		c.body = &shGroup{body: body}
	case t.kind == tokOp && t.val == "(":
		p.pos++
		var body *shList
		if body, err = p.list(); err == nil {
			if t := p.next(); t.kind != tokOp || t.val != ")" {
				err = shSyntax("missing \")\"")
			}
		}
		c.body = &shGroup{body: body, subshell: true}
	}
	if err != nil {
		return nil, err
	}
	// Words and redirects (only redirects after a compound command).
	for {
		t := p.peek()
		switch t.kind {
		case tokRedir:
			p.pos++
			tt := p.next()
			if tt.kind != tokWord {
				return nil, shSyntax("redirection unexpected")
			}
			if t.val == "<<" {
				return nil, shSyntax("here-documents are not supported")
			}
			c.redirs = append(c.redirs, shRedir{fd: t.fd, op: t.val, target: tt.val})
			continue
		case tokWord:
			if c.body != nil {
				return nil, shSyntax("word unexpected")
			}
			p.pos++
			if len(c.words) == 0 && isAssignment(t.val) {
				c.assigns = append(c.assigns, t.val)
			} else {
				c.words = append(c.words, t.val)
			}
			continue
		}
		break
	}
	if c.body == nil && len(c.words) == 0 && len(c.assigns) == 0 && len(c.redirs) == 0 {
		t := p.peek()
		if t.kind == tokEOF {
			return nil, shSyntax("end of file unexpected")
		}
		return nil, shSyntax("%q unexpected", t.val)
	}
	return c, nil
}

func isAssignment(w string) bool {
	i := strings.IndexByte(w, '=')
	if i <= 0 {
		return false
	}
	return isShName(w[:i])
}

func isShName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func (p *shParser) ifClause() (*shIf, error) {
	n := &shIf{}
	for {
		cond, err := p.list()
		if err != nil {
			return nil, err
		}
		if err := p.expectWord("then"); err != nil {
			return nil, err
		}
		body, err := p.list()
		if err != nil {
			return nil, err
		}
		n.conds, n.bodies = append(n.conds, cond), append(n.bodies, body)
		switch {
		case p.isWord("elif"):
			p.pos++
			continue
		case p.isWord("else"):
			p.pos++
			if n.els, err = p.list(); err != nil {
				return nil, err
			}
		}
		return n, p.expectWord("fi")
	}
}

func (p *shParser) forClause() (*shFor, error) {
	t := p.next()
	if t.kind != tokWord || !isShName(t.val) {
		return nil, shSyntax("bad for loop variable")
	}
	n := &shFor{name: t.val}
	p.skipNewlines()
	if p.isWord("in") {
		p.pos++
		n.hasIn = true
		for p.peek().kind == tokWord {
			n.words = append(n.words, p.next().val)
		}
		if t := p.peek(); t.kind == tokOp && t.val == ";" {
			p.pos++
		}
	} else if t := p.peek(); t.kind == tokOp && t.val == ";" {
		p.pos++
	}
	if err := p.expectWord("do"); err != nil {
		return nil, err
	}
	body, err := p.list()
	if err != nil {
		return nil, err
	}
	n.body = body
	return n, p.expectWord("done")
}

func (p *shParser) whileClause(until bool) (*shWhile, error) {
	cond, err := p.list()
	if err != nil {
		return nil, err
	}
	if err := p.expectWord("do"); err != nil {
		return nil, err
	}
	body, err := p.list()
	if err != nil {
		return nil, err
	}
	return &shWhile{until: until, cond: cond, body: body}, p.expectWord("done")
}

func (p *shParser) caseClause() (*shCase, error) {
	t := p.next()
	if t.kind != tokWord {
		return nil, shSyntax("bad case word")
	}
	n := &shCase{word: t.val}
	if err := p.expectWord("in"); err != nil {
		return nil, err
	}
	for {
		p.skipNewlines()
		if p.isWord("esac") {
			p.pos++
			return n, nil
		}
		if t := p.peek(); t.kind == tokOp && t.val == "(" {
			p.pos++
		}
		var item shCaseItem
		for {
			t := p.next()
			if t.kind != tokWord {
				return nil, shSyntax("bad case pattern")
			}
			item.pats = append(item.pats, t.val)
			t = p.next()
			if t.kind == tokOp && t.val == ")" {
				break
			}
			if t.kind != tokOp || t.val != "|" {
				return nil, shSyntax("expecting \")\" in case pattern")
			}
		}
		body, err := p.list()
		if err != nil {
			return nil, err
		}
		item.body = body
		n.items = append(n.items, item)
		p.skipNewlines()
		if t := p.peek(); t.kind == tokOp && t.val == ";;" {
			p.pos++
			continue
		}
		if err := p.expectWord("esac"); err != nil {
			return nil, err
		}
		return n, nil
	}
}
