package schema

import (
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"testing"
)

// libraryValid is the library's own answer, without the fast path.
func libraryValid(t testing.TB, k Kind, doc any) bool {
	t.Helper()
	e, err := compiled(k)
	if err != nil {
		t.Fatal(err)
	}
	n := normalizer{}
	v := n.value(doc, nil)
	return e.sch.Validate(v) == nil && len(n.bad) == 0
}

// agree fails when the fast checker contradicts the library: "valid" must
// mean the library finds nothing, and "invalid" that it finds something
// (oneOf and not rely on the latter). "unknown" is always allowed.
func agree(t testing.TB, k Kind, doc any, what string) verdict {
	t.Helper()
	e, err := compiled(k)
	if err != nil {
		t.Fatal(err)
	}
	if !normal(doc, true) {
		return unknown
	}
	got := check(e.sch, doc, 0)
	if lib := libraryValid(t, k, doc); got == valid && !lib || got == invalid && lib {
		t.Errorf("%s %s: fast checker says %v, library says valid=%v", k, what, got, lib)
	}
	return got
}

func (v verdict) String() string {
	return [...]string{"valid", "invalid", "unknown"}[v]
}

func TestFastPathEnabled(t *testing.T) {
	// A schema edit that uses a keyword fast.go does not implement turns
	// the fast path off silently (correct, but validate gets slow).
	for _, k := range Kinds() {
		e, err := compiled(k)
		if err != nil {
			t.Fatal(err)
		}
		if !e.fast {
			t.Errorf("%s: the schema uses a keyword the fast checker does not know; teach fast.go", k)
		}
	}
}

// mutations are values put in place of every value of a valid document.
var mutations = []any{
	nil, true, false, "", "x", "lxcplan/v1", "Recipe", "Stack", "string", "int", "enum", "secret", "bool",
	"10.0.0.1/24", "vmbr0", "1.0.0", "5m", "/abs", "UPPER", "a b",
	0, -1, 1, 15, 16, 99, 100, 4094, 4095, 65535, 65536, int64(math.MaxInt64), int64(math.MinInt64),
	0.5, 1.0, 16.5, -0.0, 1e300, -1e300, 4094.0000001, 1e15 + 0.5,
	[]any{}, []any{"a"}, []any{1}, []any{map[string]any{}},
	map[string]any{}, map[string]any{"x": 1}, map[string]any{"type": "int"}, map[string]any{"type": "string", "default": 1},
	map[string]any{"name": "a"}, map[string]any{"apt": []any{"curl"}}, map[string]any{"run": "x", "apt": "y"},
}

// walkDoc calls fn with every path of doc and a setter for the value there.
func walkDoc(v any, path []string, fn func(path []string, set func(any), del func())) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := append(slices.Clip(path), k)
			old := x[k]
			fn(p, func(n any) { x[k] = n }, func() { delete(x, k) })
			x[k] = old
			walkDoc(old, p, fn)
		}
	case []any:
		for i := range x {
			p := append(slices.Clip(path), fmt.Sprint(i))
			old := x[i]
			fn(p, func(n any) { x[i] = n }, nil)
			x[i] = old
			walkDoc(old, p, fn)
		}
	}
}

// walkMaps calls fn with every mapping in v.
func walkMaps(v any, fn func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(x)
		for _, e := range x {
			walkMaps(e, fn)
		}
	case []any:
		for _, e := range x {
			walkMaps(e, fn)
		}
	}
}

// TestFastCheckerAgrees mutates every value of the valid fixtures and of
// in many ways and compares the fast checker with the
// library on each result.
func TestFastCheckerAgrees(t *testing.T) {
	docs := map[string]struct {
		k   Kind
		doc any
	}{}
	for f, k := range fixtures(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs[f] = struct {
			k   Kind
			doc any
		}{k, decodeYAML(t, string(b))}
	}
	names := make([]string, 0, len(docs))
	for n := range docs {
		names = append(names, n)
	}
	sort.Strings(names)
	counts := map[verdict]int{}
	// Each path gets every stride-th mutation, starting at a different one,
	// so all mutations are used while the library (slow on invalid
	// documents) runs a few thousand times, not tens of thousands.
	const stride = 7
	at := 0
	for _, name := range names {
		d := docs[name]
		if got := agree(t, d.k, d.doc, name); got != valid {
			t.Errorf("%s: fast checker says %v for a valid document", name, got)
		}
		// Extra keys exercise additionalProperties and propertyNames.
		walkMaps(d.doc, func(m map[string]any) {
			for _, k := range []string{"", "Bad Key", "zz", "a", "a-b", "9", "community", "pve1"} {
				if _, ok := m[k]; ok {
					continue
				}
				for _, v := range []any{"x", map[string]any{"recipe": "r"}} {
					m[k] = v
					counts[agree(t, d.k, d.doc, fmt.Sprintf("%s with key %q=%v", name, k, v))]++
				}
				delete(m, k)
			}
		})
		walkDoc(d.doc, nil, func(path []string, set func(any), del func()) {
			at++
			for i := at % stride; i < len(mutations); i += stride {
				m := mutations[i]
				set(m)
				counts[agree(t, d.k, d.doc, fmt.Sprintf("%s %v=%#v", name, path, m))]++
			}
			if del != nil {
				del()
				counts[agree(t, d.k, d.doc, fmt.Sprintf("%s without %v", name, path))]++
			}
		})
	}
	// The comparison only means something if both answers occur.
	if counts[valid] == 0 || counts[invalid] == 0 {
		t.Errorf("verdicts %v: expected both valid and invalid mutations", counts)
	}
	t.Logf("verdicts: %v", counts)
}

// TestFastCheckerInvalidCases runs the pinned invalid documents: none may
// be called valid.
func TestFastCheckerInvalidCases(t *testing.T) {
	for _, c := range invalidCases {
		if got := agree(t, c.kind, decodeYAML(t, c.src), c.name); got == valid {
			t.Errorf("%s: fast checker says valid", c.name)
		}
	}
}

// FuzzFastChecker compares the fast checker with the library on arbitrary
// YAML, for every kind.
func FuzzFastChecker(f *testing.F) {
	for file := range fixtures(f) {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	for _, c := range invalidCases {
		f.Add([]byte(c.src))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		var doc any
		if err := yamlUnmarshal(src, &doc); err != nil {
			return
		}
		for _, k := range Kinds() {
			agree(t, k, doc, fmt.Sprintf("%q", src))
		}
	})
}
