package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/lxcplan/lxcplan/engine/diag"
)

const (
	// MaxFileSize bounds what we read: manifests are hand-written and small,
	// so anything bigger is a mistake (or an attack) and is refused early.
	MaxFileSize = 4 << 20
	// maxNodes bounds the node count after alias expansion, so a "billion
	// laughs" document cannot exhaust memory.
	maxNodes = 100_000
	// maxDepth bounds nesting so conversion cannot overflow the stack.
	maxDepth = 200
)

// readFile reads a manifest from the OS filesystem with the checks every
// manifest gets; shown is the name used in diagnostics.
//
// The usual case (a readable regular file) costs one open, one fstat and
// two reads: validating a monorepo reads hundreds of files, and on a busy
// VM each system call counts. Any failure to open goes through
// readFileChecked, whose stat-then-open order decides the message.
func readFile(path string) ([]byte, diag.Diagnostics) {
	f, err := os.Open(path)
	if err != nil {
		return readFileChecked(path)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, inputErr(diag.Pos{File: path}, "", "cannot read file: %v", unwrapPathErr(err))
	}
	if fi.IsDir() {
		return nil, inputErr(diag.Pos{File: path}, "", "is a directory, not a file")
	}
	if fi.Size() > MaxFileSize {
		return nil, inputErr(diag.Pos{File: path}, "", "file is too large (%d bytes, the limit is %d)", fi.Size(), MaxFileSize)
	}
	return readOpen(path, f, fi.Size())
}

// readFileChecked is readFile the careful way: stat first, so a missing
// file, a directory or an oversized file is named as such even when it
// cannot be opened.
func readFileChecked(path string) ([]byte, diag.Diagnostics) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, inputErr(diag.Pos{File: path}, "", "file does not exist")
		}
		return nil, inputErr(diag.Pos{File: path}, "", "cannot read file: %v", unwrapPathErr(err))
	}
	if fi.IsDir() {
		return nil, inputErr(diag.Pos{File: path}, "", "is a directory, not a file")
	}
	if fi.Size() > MaxFileSize {
		return nil, inputErr(diag.Pos{File: path}, "", "file is too large (%d bytes, the limit is %d)", fi.Size(), MaxFileSize)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, inputErr(diag.Pos{File: path}, "", "cannot read file: %v", unwrapPathErr(err))
	}
	defer f.Close()
	return readOpen(path, f, fi.Size())
}

// readOpen reads an open file whose size was size when checked.
func readOpen(path string, f *os.File, size int64) ([]byte, diag.Diagnostics) {
	// Room for the whole file and a final read that sees EOF; read one
	// byte past the limit: the file may have grown since Stat.
	var buf bytes.Buffer
	buf.Grow(int(size) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxFileSize+1)); err != nil {
		return nil, inputErr(diag.Pos{File: path}, "", "cannot read file: %v", unwrapPathErr(err))
	}
	if buf.Len() > MaxFileSize {
		return nil, inputErr(diag.Pos{File: path}, "", "file is too large (more than %d bytes)", MaxFileSize)
	}
	return buf.Bytes(), nil
}

// readFSFile is readFile for an fs.FS (built-in recipes): open, then stat
// the open file, so a library on disk costs no separate path lookup. A
// failure to open goes through readFSFileChecked for its message.
func readFSFile(fsys fs.FS, name, shown string) ([]byte, diag.Diagnostics) {
	f, err := fsys.Open(name)
	if err != nil {
		return readFSFileChecked(fsys, name, shown)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return readFSFileChecked(fsys, name, shown)
	}
	if fi.IsDir() {
		return nil, inputErr(diag.Pos{File: shown}, "", "is a directory, not a file")
	}
	if fi.Size() > MaxFileSize {
		return nil, inputErr(diag.Pos{File: shown}, "", "file is too large (%d bytes, the limit is %d)", fi.Size(), MaxFileSize)
	}
	var buf bytes.Buffer
	buf.Grow(int(fi.Size()) + bytes.MinRead)
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, inputErr(diag.Pos{File: shown}, "", "cannot read file: %v", unwrapPathErr(err))
	}
	return buf.Bytes(), nil
}

// readFSFileChecked is readFSFile the careful way, stat first.
func readFSFileChecked(fsys fs.FS, name, shown string) ([]byte, diag.Diagnostics) {
	fi, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, inputErr(diag.Pos{File: shown}, "", "file does not exist")
	}
	if fi.IsDir() {
		return nil, inputErr(diag.Pos{File: shown}, "", "is a directory, not a file")
	}
	if fi.Size() > MaxFileSize {
		return nil, inputErr(diag.Pos{File: shown}, "", "file is too large (%d bytes, the limit is %d)", fi.Size(), MaxFileSize)
	}
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, inputErr(diag.Pos{File: shown}, "", "cannot read file: %v", unwrapPathErr(err))
	}
	return data, nil
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func inputErr(pos diag.Pos, path, format string, args ...any) diag.Diagnostics {
	return diag.Diagnostics{diag.Errorf(diag.ClassInput, pos, path, format, args...)}
}

var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses exactly one YAML document into a node tree. Problems with
// the bytes themselves (encoding, emptiness, syntax, several documents) are
// reported against file.
func parseYAML(file string, data []byte) (*yaml.Node, diag.Diagnostics) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		line, col := firstInvalidUTF8(data)
		return nil, inputErr(diag.Pos{File: file, Line: line, Col: col}, "", "file is not valid UTF-8")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, inputErr(diag.Pos{File: file}, "", "file is empty")
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		line, col := lineCol(data, i)
		return nil, inputErr(diag.Pos{File: file, Line: line, Col: col}, "", "file contains a NUL byte")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := decodeSafely(dec, &doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, inputErr(diag.Pos{File: file}, "", "file is empty")
		}
		return nil, yamlErr(file, data, err)
	}
	var next yaml.Node
	switch err := decodeSafely(dec, &next); {
	case err == nil:
		return nil, inputErr(diag.Pos{File: file, Line: next.Line, Col: 1}, "", "file contains more than one YAML document; put each recipe or stack in its own file")
	case !errors.Is(err, io.EOF):
		return nil, yamlErr(file, data, err)
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root := doc.Content[0]
		if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
			return nil, inputErr(diag.Pos{File: file}, "", "file is empty")
		}
		return root, nil
	}
	return nil, inputErr(diag.Pos{File: file}, "", "file is empty")
}

// decodeSafely turns a panic inside the YAML library into an error: bad input
// must never crash lxcplan.
func decodeSafely(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return dec.Decode(n)
}

func yamlErr(file string, data []byte, err error) diag.Diagnostics {
	msg := err.Error()
	if m := yamlLineRe.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		col := 1
		// yaml.v3 reports the line where the enclosing construct started,
		// often lines above the mistake; find the line that breaks it.
		if l, c := culpritLine(data, m[2]); l > 0 {
			line, col = l, c
		}
		return inputErr(diag.Pos{File: file, Line: line, Col: col}, "", "invalid YAML: %s", m[2])
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	return inputErr(diag.Pos{File: file}, "", "invalid YAML: %s", msg)
}

// culpritLine finds the first line whose addition makes the document fail
// with the same problem, by parsing prefixes (binary search; this runs only
// for documents that failed). It returns 0 when the answer is not clear-cut.
func culpritLine(data []byte, problem string) (int, int) {
	lines := bytes.SplitAfter(data, []byte("\n"))
	fails := func(k int) bool {
		dec := yaml.NewDecoder(bytes.NewReader(bytes.Join(lines[:k], nil)))
		for {
			var n yaml.Node
			err := decodeSafely(dec, &n)
			if err == nil {
				continue
			}
			if errors.Is(err, io.EOF) {
				return false
			}
			m := yamlLineRe.FindStringSubmatch(err.Error())
			return m != nil && m[2] == problem
		}
	}
	lo, hi := 1, len(lines) // invariant: prefix hi fails
	if !fails(hi) {
		return 0, 0
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if hi > 1 && fails(hi-1) {
		return 0, 0
	}
	line := lines[hi-1]
	col := 1 + utf8.RuneCount(line) - utf8.RuneCount(bytes.TrimLeft(line, " "))
	return hi, col
}

func firstInvalidUTF8(data []byte) (int, int) {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return lineCol(data, i)
		}
		i += size
	}
	return 0, 0
}

// lineCol converts a byte offset to a 1-based line and a 1-based column in runes.
func lineCol(data []byte, off int) (int, int) {
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	return line, 1 + utf8.RuneCount(data[start:off])
}

// doc is a parsed document: the node tree and its plain-value form (what
// the schema validates). Positions are looked up in the node tree by path
// when needed, which costs less than indexing every node up front.
type doc struct {
	file  string
	root  *yaml.Node
	value any
	count int
}

// deref follows aliases.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxDepth; i++ {
		n = n.Alias
	}
	return n
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge"
}

// findKey returns the key and value nodes for key in mapping m, the way
// convert reads it: the first occurrence wins, then merged mappings.
func findKey(m *yaml.Node, key string, depth int) (*yaml.Node, *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key && !isMergeKey(k) {
			return k, m.Content[i+1]
		}
	}
	if depth > maxDepth {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if !isMergeKey(m.Content[i]) {
			continue
		}
		v := deref(m.Content[i+1])
		srcs := []*yaml.Node{v}
		if v != nil && v.Kind == yaml.SequenceNode {
			srcs = v.Content
		}
		for _, s := range srcs {
			if s = deref(s); s != nil && s.Kind == yaml.MappingNode {
				if k, v := findKey(s, key, depth+1); k != nil {
					return k, v
				}
			}
		}
	}
	return nil, nil
}

// walk follows path from the root. It returns how many tokens it could
// follow, the node reached and the key node naming it (nil for sequence
// items and the root).
func (d *doc) walk(p []string) (int, *yaml.Node, *yaml.Node) {
	n := deref(d.root)
	var key *yaml.Node
	for i, tok := range p {
		ok, next, k := walkFrom(n, tok)
		if !ok {
			return i, n, key
		}
		n, key = next, k
	}
	return len(p), n, key
}

// pos is the position of the value at path (or of its nearest ancestor).
func (d *doc) pos(p []string) diag.Pos {
	if _, n, _ := d.walk(p); n != nil {
		return diag.Pos{File: d.file, Line: n.Line, Col: n.Column}
	}
	return diag.Pos{File: d.file}
}

// keyPos is the position of the key naming the value at path; for sequence
// items and the root it is the value's position.
func (d *doc) keyPos(p []string) diag.Pos {
	if got, _, k := d.walk(p); got == len(p) && k != nil {
		return diag.Pos{File: d.file, Line: k.Line, Col: k.Column}
	}
	return d.pos(p)
}

// display renders a path as people read it: containers.app.mounts[0].path.
func (d *doc) display(p []string) string {
	var b strings.Builder
	n := deref(d.root)
	for i, tok := range p {
		if n != nil && n.Kind == yaml.SequenceNode {
			b.WriteString("[" + tok + "]")
		} else {
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(tok)
		}
		_, n, _ = walkFrom(n, tok)
	}
	return b.String()
}

// walkFrom steps from n to its child tok: the value and the key naming it.
func walkFrom(n *yaml.Node, tok string) (bool, *yaml.Node, *yaml.Node) {
	switch {
	case n == nil:
		return false, nil, nil
	case n.Kind == yaml.MappingNode:
		k, v := findKey(n, tok, 0)
		return k != nil, deref(v), k
	case n.Kind == yaml.SequenceNode:
		idx, err := strconv.Atoi(tok)
		if err != nil || idx < 0 || idx >= len(n.Content) {
			return false, nil, nil
		}
		return true, deref(n.Content[idx]), nil
	}
	return false, nil, nil
}

// convert builds the plain-value form of root: map[string]any, []any,
// string, bool, int64, float64, nil. Duplicate keys, unsupported tags and
// oversized documents are reported.
func convert(file string, root *yaml.Node) (*doc, diag.Diagnostics) {
	d := &doc{file: file, root: root}
	var ds diag.Diagnostics
	v, ok := d.conv(root, nil, 0, &ds)
	if !ok {
		return nil, ds
	}
	d.value = v
	return d, ds
}

func (d *doc) conv(n *yaml.Node, path []string, depth int, ds *diag.Diagnostics) (any, bool) {
	d.count++
	if d.count > maxNodes {
		*ds = append(*ds, diag.Errorf(diag.ClassInput, diag.Pos{File: d.file, Line: n.Line, Col: n.Column}, "",
			"document is too large: more than %d values after expanding aliases", maxNodes))
		return nil, false
	}
	if depth > maxDepth {
		*ds = append(*ds, diag.Errorf(diag.ClassInput, diag.Pos{File: d.file, Line: n.Line, Col: n.Column}, "",
			"document is nested more than %d levels deep", maxDepth))
		return nil, false
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			*ds = append(*ds, diag.Errorf(diag.ClassInput, diag.Pos{File: d.file, Line: n.Line, Col: n.Column}, d.display(path), "unknown alias"))
			return nil, true
		}
		return d.conv(n.Alias, path, depth+1, ds)
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		var merges []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn, vn := n.Content[i], n.Content[i+1]
			if isMergeKey(kn) {
				merges = append(merges, vn)
				continue
			}
			if kn.Kind != yaml.ScalarNode {
				*ds = append(*ds, diag.Errorf(diag.ClassInput, diag.Pos{File: d.file, Line: kn.Line, Col: kn.Column}, d.display(path), "mapping keys must be plain strings"))
				continue
			}
			key := kn.Value
			// Every plain key converted so far is in m (the merges come
			// later), so m finds duplicates without a second map.
			if _, dup := m[key]; dup {
				*ds = append(*ds, diag.Errorf(diag.ClassInput, diag.Pos{File: d.file, Line: kn.Line, Col: kn.Column}, d.display(append(path, key)),
					"key %q is already defined at line %d", key, firstKey(n, key).Line))
				continue
			}
			v, ok := d.conv(vn, append(path, key), depth+1, ds)
			if !ok {
				return nil, false
			}
			m[key] = v
		}
		// Merge keys (<<: *base) add the keys the mapping does not set itself.
		for _, mn := range merges {
			srcs := []*yaml.Node{mn}
			if mn.Kind == yaml.SequenceNode {
				srcs = mn.Content
			}
			for _, s := range srcs {
				for s.Kind == yaml.AliasNode && s.Alias != nil {
					s = s.Alias
				}
				if s.Kind != yaml.MappingNode {
					*ds = append(*ds, diag.Errorf(diag.ClassInput, diag.Pos{File: d.file, Line: mn.Line, Col: mn.Column}, d.display(path), "a merge key (<<) needs a mapping or a list of mappings"))
					continue
				}
				for i := 0; i+1 < len(s.Content); i += 2 {
					kn, vn := s.Content[i], s.Content[i+1]
					if kn.Kind != yaml.ScalarNode || kn.ShortTag() == "!!merge" {
						continue
					}
					if _, exists := m[kn.Value]; exists {
						continue
					}
					v, ok := d.conv(vn, append(path, kn.Value), depth+1, ds)
					if !ok {
						return nil, false
					}
					m[kn.Value] = v
				}
			}
		}
		return m, true
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			v, ok := d.conv(c, append(path, strconv.Itoa(i)), depth+1, ds)
			if !ok {
				return nil, false
			}
			l = append(l, v)
		}
		return l, true
	case yaml.ScalarNode:
		v, err := scalarValue(n)
		if err != nil {
			*ds = append(*ds, diag.Errorf(diag.ClassInput, diag.Pos{File: d.file, Line: n.Line, Col: n.Column}, d.display(path), "%v", err))
			return nil, true
		}
		return v, true
	case yaml.DocumentNode:
		if len(n.Content) == 1 {
			return d.conv(n.Content[0], path, depth+1, ds)
		}
		return nil, true
	}
	return nil, true
}

// firstKey is the first plain scalar key of mapping n named key.
func firstKey(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if kn := n.Content[i]; kn.Kind == yaml.ScalarNode && kn.Value == key && !isMergeKey(kn) {
			return kn
		}
	}
	return nil
}

// scalarValue resolves a scalar the way YAML 1.2 (as yaml.v3 does) would.
func scalarValue(n *yaml.Node) (any, error) {
	switch tag := n.ShortTag(); tag {
	case "!!str", "!!timestamp", "!!binary":
		return n.Value, nil
	case "!!null":
		return nil, nil
	case "!!bool":
		switch n.Value {
		case "true", "True", "TRUE":
			return true, nil
		case "false", "False", "FALSE":
			return false, nil
		}
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, fmt.Errorf("invalid boolean %q", n.Value)
		}
		return b, nil
	case "!!int":
		if i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
			return i, nil
		}
		var i int64
		if err := n.Decode(&i); err != nil {
			var f float64
			if err2 := n.Decode(&f); err2 == nil {
				return f, nil
			}
			return nil, fmt.Errorf("invalid integer %q", n.Value)
		}
		return i, nil
	case "!!float":
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
			return f, nil
		}
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, fmt.Errorf("invalid number %q", n.Value)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%q is not a finite number", n.Value)
		}
		return f, nil
	default:
		return nil, fmt.Errorf("unsupported YAML tag %s", n.Tag)
	}
}

// retype gives a plain scalar whose text changed (by interpolation) the type
// YAML would have given the new text.
func retype(n *yaml.Node) {
	if n.Style != 0 { // quoted or block scalars stay strings
		n.Tag = "!!str"
		return
	}
	probe := yaml.Node{Kind: yaml.ScalarNode, Value: n.Value}
	tag := probe.ShortTag()
	switch tag {
	case "!!int", "!!float", "!!bool", "!!null":
		n.Tag = tag
	default:
		n.Tag = "!!str"
	}
}
