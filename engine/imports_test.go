package engine_test

// This test enforces the import rules of style.md §4.2 and the README: each
// third-party library is imported by one package only (plus that package's
// own tests), and dependencies point one way. It reads the import clauses of
// every .go file of every package of the module, whatever its build tags, so
// a file built only on some platform or with some tag cannot slip through.

import (
	"bytes"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/lxcplan/lxcplan"

// owners maps each third-party module to the only packages (relative to the
// module) whose files, tests included, may import it. A module missing here
// makes the test fail: adding a dependency means choosing its one owner.
var owners = map[string][]string{
	"gopkg.in/yaml.v3":                         {"engine/manifest"},
	"github.com/santhosh-tekuri/jsonschema/v5": {"schema"},
	"github.com/santhosh-tekuri/jsonschema/v6": {"schema"}, // schema's tests: the second validator
	"github.com/xeipuuv/gojsonschema":          {"schema"},
	"github.com/urfave/cli/v2":                 {"cmd/lxcplan"},
	"github.com/rs/zerolog":                    {"cmd/lxcplan"},
	"golang.org/x/term":                        {"cmd/lxcplan"},
	"github.com/rogpeppe/go-internal":          {"cmd/lxcplan"},
	"golang.org/x/crypto":                      {"engine/transport/ssh", "engine/transport/ssh/sshtest"},
	"github.com/bramvdbogaerde/go-scp":         {"engine/transport/ssh", "engine/transport/ssh/sshtest"},
	"github.com/kevinburke/ssh_config":         {"engine/transport/ssh"},
	"golang.org/x/sync":                        {"engine/inventory"},
}

// pending lists imports that break the rules in files being rewritten by
// someone else right now: file (relative to the module) → import path. Each
// entry must still be needed (the test fails once the file no longer has the
// import), so the list can only shrink.
var pending = map[string]string{}

// onlyImports: the project packages each of these may import directly in
// non-test code (style.md §4.2 table, bottom of the graph).
var onlyImports = map[string][]string{
	"engine/diag":      {},
	"engine/dag":       {},
	"engine/model":     {"engine/diag"},
	"engine/pve":       {"engine/diag"},
	"engine/transport": {"engine/diag"},
	"schema":           {},
	"recipes":          {},
}

// neverDepends: these packages must not depend on those, directly or
// through others, in non-test code. Planning and rendering are pure: they
// never reach a host or run a plan.
var neverDepends = map[string][]string{
	"engine/plan":   {"engine/transport/ssh", "engine/transport/local", "engine/exec", "engine/pvesim"},
	"engine/render": {"engine/transport/ssh", "engine/transport/local", "engine/exec", "engine/pvesim"},
}

// simUsers may import engine/pvesim (and its subpackages) in non-test code:
// the simulator is for tests, the lab and the demo, never the product.
var simUsers = []string{"engine/pvesim", "cmd/pvelab"}

type pkg struct {
	rel   string                         // path relative to the module, "." for the root
	files map[string]map[string][]string // file name → import path → positions
}

// loadPackages lists the module's packages with the imports of each of
// their .go files.
func loadPackages(t *testing.T) map[string]*pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-f", "{{.ImportPath}}\t{{.Dir}}", module+"/...")
	cmd.Dir = ".."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]*pkg{}
	fset := token.NewFileSet()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		ip, dir, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("go list: unexpected line %q", line)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(ip, module), "/")
		if rel == "" {
			rel = "."
		}
		p := &pkg{rel: rel, files: map[string]map[string][]string{}}
		names, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			src, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			// Positions name the file relative to the module root.
			shown := filepath.ToSlash(filepath.Join(rel, filepath.Base(name)))
			f, err := parser.ParseFile(fset, shown, src, parser.ImportsOnly)
			if err != nil {
				t.Errorf("parse %s: %v", name, err)
				continue
			}
			imps := map[string][]string{}
			for _, is := range f.Imports {
				path, err := strconv.Unquote(is.Path.Value)
				if err != nil {
					t.Errorf("%s: bad import %s", fset.Position(is.Pos()), is.Path.Value)
					continue
				}
				imps[path] = append(imps[path], fset.Position(is.Pos()).String())
			}
			p.files[filepath.Base(name)] = imps
		}
		pkgs[rel] = p
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages; is the test run inside the module?", len(pkgs))
	}
	return pkgs
}

func isTestFile(name string) bool { return strings.HasSuffix(name, "_test.go") }

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// projectRel returns the module-relative path of a project import.
func projectRel(path string) (string, bool) {
	if path == module {
		return ".", true
	}
	rel, ok := strings.CutPrefix(path, module+"/")
	return rel, ok
}

// moduleOf finds the owned module an import path belongs to (longest prefix).
func moduleOf(path string) (string, bool) {
	best := ""
	for m := range owners {
		if (path == m || strings.HasPrefix(path, m+"/")) && len(m) > len(best) {
			best = m
		}
	}
	return best, best != ""
}

func within(rel, tree string) bool { return rel == tree || strings.HasPrefix(rel, tree+"/") }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestThirdPartyOwners: each third-party module is imported only by its
// owner package and that package's tests.
func TestThirdPartyOwners(t *testing.T) {
	pkgs := loadPackages(t)
	seenPending := map[string]bool{}
	for _, rel := range sortedKeys(pkgs) {
		p := pkgs[rel]
		for _, file := range sortedKeys(p.files) {
			fileRel := filepath.ToSlash(filepath.Join(rel, file))
			for _, imp := range sortedKeys(p.files[file]) {
				if isStd(imp) {
					continue
				}
				if _, ok := projectRel(imp); ok {
					continue
				}
				where := p.files[file][imp][0]
				m, ok := moduleOf(imp)
				if !ok {
					t.Errorf("%s imports %s, a module with no owner: add it to owners in engine/imports_test.go with the one package allowed to import it",
						where, imp)
					continue
				}
				if slices.Contains(owners[m], rel) {
					continue
				}
				if pending[fileRel] == imp {
					seenPending[fileRel] = true
					t.Logf("%s imports %s: allowed for now (pending list)", where, imp)
					continue
				}
				t.Errorf("%s imports %s, which only %s may import (and its tests); go through that package instead",
					where, imp, strings.Join(owners[m], " and "))
			}
		}
	}
	for _, f := range sortedKeys(pending) {
		if !seenPending[f] {
			t.Errorf("pending entry %s → %s is stale (the file no longer imports it): remove it from engine/imports_test.go", f, pending[f])
		}
	}
}

// projectImports returns a package's direct project imports in non-test
// files, each with the position of one import clause.
func projectImports(p *pkg) map[string]string {
	out := map[string]string{}
	for _, file := range sortedKeys(p.files) {
		if isTestFile(file) {
			continue
		}
		for imp, pos := range p.files[file] {
			if rel, ok := projectRel(imp); ok {
				if _, seen := out[rel]; !seen {
					out[rel] = pos[0]
				}
			}
		}
	}
	return out
}

// TestDependencyDirection checks the main direction rules of style.md §4.2
// on non-test code.
func TestDependencyDirection(t *testing.T) {
	pkgs := loadPackages(t)
	direct := map[string]map[string]string{}
	for rel, p := range pkgs {
		direct[rel] = projectImports(p)
	}

	for _, rel := range sortedKeys(onlyImports) {
		if _, ok := pkgs[rel]; !ok {
			t.Errorf("rule for %s: no such package (update engine/imports_test.go)", rel)
			continue
		}
		for _, imp := range sortedKeys(direct[rel]) {
			if !slices.Contains(onlyImports[rel], imp) {
				allowed := "no project package"
				if len(onlyImports[rel]) > 0 {
					allowed = "only " + strings.Join(onlyImports[rel], ", ")
				}
				t.Errorf("%s: %s imports %s; it may import %s (style.md §4.2)", direct[rel][imp], rel, imp, allowed)
			}
		}
	}

	for _, rel := range sortedKeys(neverDepends) {
		if _, ok := pkgs[rel]; !ok {
			t.Errorf("rule for %s: no such package (update engine/imports_test.go)", rel)
			continue
		}
		for _, banned := range neverDepends[rel] {
			if chain := pathTo(direct, rel, banned); chain != nil {
				t.Errorf("%s depends on %s (%s; first import at %s): planning and rendering never reach hosts or run plans",
					rel, banned, strings.Join(chain, " → "), direct[chain[0]][chain[1]])
			}
		}
	}

	for _, rel := range sortedKeys(direct) {
		if slices.ContainsFunc(simUsers, func(u string) bool { return within(rel, u) }) {
			continue
		}
		for _, imp := range sortedKeys(direct[rel]) {
			if within(imp, "engine/pvesim") {
				t.Errorf("%s: %s imports %s in non-test code; the simulator is only for tests, %s",
					direct[rel][imp], rel, imp, strings.Join(simUsers, " and "))
			}
		}
	}
}

// pathTo returns an import chain from one package to another through
// non-test imports, or nil when there is none. The chain is the shortest,
// and among those the first in sorted order, so messages are stable.
func pathTo(direct map[string]map[string]string, from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, next := range sortedKeys(direct[cur]) {
			if _, seen := prev[next]; seen {
				continue
			}
			prev[next] = cur
			if next == to {
				var chain []string
				for n := to; n != ""; n = prev[n] {
					chain = append([]string{n}, chain...)
				}
				return chain
			}
			queue = append(queue, next)
		}
	}
	return nil
}

// TestRulesCatchViolations keeps the checks honest: a fabricated package
// graph with one violation of each kind must be reported.
func TestRulesCatchViolations(t *testing.T) {
	direct := map[string]map[string]string{
		"engine/render":    {"engine/plan": "render.go:3"},
		"engine/plan":      {"engine/inventory": "plan.go:3"},
		"engine/inventory": {"engine/transport/ssh": "observe.go:5"},
	}
	chain := pathTo(direct, "engine/render", "engine/transport/ssh")
	if want := []string{"engine/render", "engine/plan", "engine/inventory", "engine/transport/ssh"}; !slices.Equal(chain, want) {
		t.Errorf("pathTo = %q, want %q", chain, want)
	}
	if chain := pathTo(direct, "engine/inventory", "engine/render"); chain != nil {
		t.Errorf("pathTo found a path against the edges: %q", chain)
	}
	for _, tt := range []struct {
		path, module string
		ok           bool
	}{
		{"golang.org/x/crypto/ssh/knownhosts", "golang.org/x/crypto", true},
		{"github.com/santhosh-tekuri/jsonschema/v6", "github.com/santhosh-tekuri/jsonschema/v6", true},
		{"github.com/rogpeppe/go-internal/testscript", "github.com/rogpeppe/go-internal", true},
		{"golang.org/x/cryptography", "", false},
		{"example.com/unknown", "", false},
	} {
		if m, ok := moduleOf(tt.path); m != tt.module || ok != tt.ok {
			t.Errorf("moduleOf(%s) = %s %v, want %s %v", tt.path, m, ok, tt.module, tt.ok)
		}
	}
	for path, std := range map[string]bool{"fmt": true, "net/http": true, "C": true, "gopkg.in/yaml.v3": false, module + "/engine/diag": false} {
		if isStd(path) != std {
			t.Errorf("isStd(%s) = %v", path, !std)
		}
	}
	if rel, ok := projectRel(module + "/engine/diag"); !ok || rel != "engine/diag" {
		t.Errorf("projectRel = %s %v", rel, ok)
	}
	if _, ok := projectRel(module + "x/engine"); ok {
		t.Error("projectRel accepts a module that only shares a prefix")
	}
}
