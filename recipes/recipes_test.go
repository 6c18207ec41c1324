package recipes_test

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/lxcplan/lxcplan/engine/manifest"
	"github.com/lxcplan/lxcplan/recipes"
)

// This is a self-check of the library's shape with plain YAML; the loader
// (engine/manifest) and the JSON schema are the authority on the format.

var (
	nameRe    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	semverRe  = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	paramRe   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	pkgRe     = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]*$`)
	refRe     = regexp.MustCompile(`\$\{([^}]*)\}`)
	modeRe    = regexp.MustCompile(`^0?[0-7]{3,4}$`)
	durRe     = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`)
	stepKinds = map[string]bool{"apt": true, "apt_repo": true, "file": true, "user": true, "download": true, "run": true, "service": true}

	// The community helper scripts' category names (helper-scripts.md §7).
	categories = map[string]bool{
		"Media & Streaming": true, "Documents & Notes": true, "Monitoring & Analytics": true,
		"Proxmox & Virtualization": true, "Network & Firewall": true, "Files & Downloads": true,
		"Gaming & Leisure": true, "*Arr Suite": true, "Operating Systems": true,
		"AI / Coding & Dev-Tools": true, "Databases": true, "Business & ERP": true,
		"IoT & Smart Home": true, "Authentication & Security": true, "Miscellaneous": true,
		"Webservers & Proxies": true, "Dashboards & Frontends": true, "Backup & Recovery": true,
		"Containers & Docker": true, "Automation & Scheduling": true, "Finance & Budgeting": true,
		"Adblock & DNS": true, "NVR & Cameras": true, "MQTT & Messaging": true,
		"ZigBee/Z-Wave & Matter": true, "Bots & ChatOps": true,
	}
)

type recipe struct {
	dir string
	doc map[string]any
}

func loadAll(t *testing.T) []recipe {
	t.Helper()
	dirs, err := fs.ReadDir(recipes.FS, ".")
	if err != nil {
		t.Fatalf("read FS root: %v", err)
	}
	var out []recipe
	for _, d := range dirs {
		if !d.IsDir() {
			t.Errorf("FS root holds a file %q; only recipe folders belong there", d.Name())
			continue
		}
		b, err := fs.ReadFile(recipes.FS, d.Name()+"/recipe.yaml")
		if err != nil {
			t.Errorf("%s: %v", d.Name(), err)
			continue
		}
		// Decoded the way the loader does: only engine/manifest imports the
		// YAML library.
		v, err := manifest.DecodeYAML(b)
		if err != nil {
			t.Errorf("%s/recipe.yaml: %v", d.Name(), err)
			continue
		}
		doc, ok := v.(map[string]any)
		if !ok {
			t.Errorf("%s/recipe.yaml: not a mapping", d.Name())
			continue
		}
		out = append(out, recipe{dir: d.Name(), doc: doc})
	}
	if len(out) == 0 {
		t.Fatal("no recipes in FS")
	}
	return out
}

func asMap(v any) map[string]any    { m, _ := v.(map[string]any); return m }
func asList(v any) []any            { l, _ := v.([]any); return l }
func asString(v any) (string, bool) { s, ok := v.(string); return s, ok }

type step struct {
	kind string
	body any
}

// steps returns each step's kind and body, reporting steps that are not
// single-key maps or of an unknown kind.
func steps(t *testing.T, where string, v any, allowUpgrade bool) []step {
	t.Helper()
	var out []step
	for i, s := range asList(v) {
		m := asMap(s)
		if len(m) != 1 {
			t.Errorf("%s[%d]: a step has exactly one key, got %d", where, i, len(m))
			continue
		}
		for k, b := range m {
			if !stepKinds[k] && !(allowUpgrade && k == "apt_upgrade") {
				t.Errorf("%s[%d]: unknown step kind %q", where, i, k)
			}
			out = append(out, step{k, b})
		}
	}
	return out
}

func TestRecipesWellFormed(t *testing.T) {
	for _, r := range loadAll(t) {
		t.Run(r.dir, func(t *testing.T) {
			d := r.doc
			if d["apiVersion"] != "lxcplan/v1" || d["kind"] != "Recipe" {
				t.Errorf("apiVersion/kind = %v/%v", d["apiVersion"], d["kind"])
			}
			if name, _ := asString(d["name"]); name != r.dir || !nameRe.MatchString(name) {
				t.Errorf("name %q must match folder %q and %s", name, r.dir, nameRe)
			}
			if v, _ := asString(d["version"]); !semverRe.MatchString(v) {
				t.Errorf("version %q is not semver", v)
			}
			for _, k := range []string{"description", "category", "website"} {
				if s, _ := asString(d[k]); s == "" {
					t.Errorf("missing %s", k)
				}
			}
			if cat, _ := asString(d["category"]); !categories[cat] {
				t.Errorf("category %q is not one of the helper scripts' categories", cat)
			}
			c := asMap(d["container"])
			if c["os"] != "debian" {
				t.Errorf("container.os = %v, want debian", c["os"])
			}
			if v, ok := asString(c["version"]); !ok || v != "12" {
				t.Errorf("container.version = %#v, want the string \"12\"", c["version"])
			}
			for _, k := range []string{"cores", "memory", "disk"} {
				if _, ok := c[k].(int64); !ok {
					t.Errorf("container.%s = %#v, want an int", k, c[k])
				}
			}
			if c["unprivileged"] != true {
				t.Errorf("built-in recipes run unprivileged; container.unprivileged = %v", c["unprivileged"])
			}
			if len(asList(c["ports"])) == 0 {
				t.Errorf("container.ports is empty")
			}

			params := asMap(d["params"])
			for name, pv := range params {
				p := asMap(pv)
				if !paramRe.MatchString(name) {
					t.Errorf("param name %q", name)
				}
				typ, _ := asString(p["type"])
				switch typ {
				case "secret":
					if p["generate"] == nil {
						t.Errorf("secret param %s has no generate (recipes must apply with no params)", name)
					}
					if _, ok := p["default"]; ok {
						t.Errorf("secret param %s has a default", name)
					}
				case "string", "int", "bool", "enum":
					if p["required"] == true {
						t.Errorf("param %s is required: built-in recipes apply with no params", name)
					}
					if _, ok := p["default"]; !ok {
						t.Errorf("param %s has no default: built-in recipes apply with no params", name)
					}
					if typ == "enum" {
						found := false
						for _, v := range asList(p["values"]) {
							found = found || v == p["default"]
						}
						if !found {
							t.Errorf("enum param %s: default %v not in values", name, p["default"])
						}
					}
					if pat, ok := asString(p["pattern"]); ok {
						re, err := regexp.Compile(pat)
						if err != nil {
							t.Errorf("param %s pattern: %v", name, err)
						} else if def, ok := p["default"].(string); ok && !re.MatchString(def) {
							t.Errorf("param %s: default %q does not match its pattern", name, def)
						}
					}
				default:
					t.Errorf("param %s: type %q", name, typ)
				}
			}

			install := steps(t, "install", d["install"], false)
			update := steps(t, "update", d["update"], true)
			if len(install) == 0 || len(update) == 0 {
				t.Errorf("install (%d steps) and update (%d steps) must not be empty", len(install), len(update))
			}
			for _, s := range append(install, update...) {
				checkStep(t, r.dir, s.kind, s.body)
			}

			h := asMap(d["health"])
			n := 0
			for _, k := range []string{"tcp", "http", "cmd"} {
				if _, ok := h[k]; ok {
					n++
				}
			}
			if n != 1 {
				t.Errorf("health needs exactly one of tcp/http/cmd, has %d", n)
			}
			for _, k := range []string{"interval", "timeout"} {
				if v, ok := h[k]; ok {
					if s, _ := asString(v); !durRe.MatchString(s) {
						t.Errorf("health.%s %v is not a Go duration string", k, v)
					}
				}
			}
			outs := asMap(d["outputs"])
			if len(outs) == 0 {
				t.Errorf("no outputs")
			}
			for k, v := range outs {
				if _, ok := asString(v); !ok {
					t.Errorf("output %s is %T, want a string", k, v)
				}
			}
			if _, ok := outs["url"]; !ok {
				t.Errorf("no url output")
			}
			// A credential output must come from a secret param: lxcplan redacts
			// an output exactly when it uses a secret.
			for k, v := range outs {
				if !strings.Contains(k, "password") {
					continue
				}
				s, _ := asString(v)
				secret := false
				for _, m := range refRe.FindAllStringSubmatch(s, -1) {
					p := asMap(params[strings.TrimPrefix(m[1], "params.")])
					secret = secret || p["type"] == "secret"
				}
				if !secret {
					t.Errorf("output %s looks like a credential but uses no secret param", k)
				}
			}

			// Every ${...} reference names a declared param or a container fact.
			b, _ := fs.ReadFile(recipes.FS, r.dir+"/recipe.yaml")
			for _, m := range refRe.FindAllStringSubmatch(string(b), -1) {
				ref := m[1]
				switch {
				case ref == "container.ip" || ref == "container.hostname" || ref == "container.vmid":
				case strings.HasPrefix(ref, "params."):
					if _, ok := params[strings.TrimPrefix(ref, "params.")]; !ok {
						t.Errorf("${%s} refers to an undeclared param", ref)
					}
				default:
					t.Errorf("unknown reference ${%s} (shell variables must be written $NAME without braces)", ref)
				}
			}
		})
	}
}

func checkStep(t *testing.T, dir, kind string, body any) {
	t.Helper()
	switch kind {
	case "apt", "apt_upgrade":
		for _, p := range asList(body) {
			if s, _ := asString(p); !pkgRe.MatchString(s) {
				t.Errorf("%s: package %v", kind, p)
			}
		}
		if kind == "apt" && len(asList(body)) == 0 {
			t.Errorf("apt step with no packages")
		}
	case "file":
		f := asMap(body)
		p, _ := asString(f["path"])
		if !strings.HasPrefix(p, "/") {
			t.Errorf("file path %q is not absolute", p)
		}
		_, hasContent := f["content"]
		src, hasSource := asString(f["source"])
		if hasContent == hasSource {
			t.Errorf("file %s: exactly one of content/source", p)
		}
		if m, ok := f["mode"]; ok {
			if s, _ := asString(m); !modeRe.MatchString(s) {
				t.Errorf("file %s: mode %#v must be a quoted octal string", p, m)
			}
		}
		if hasSource {
			clean := path.Clean(src)
			if path.IsAbs(src) || clean == ".." || strings.HasPrefix(clean, "../") {
				t.Errorf("file source %q escapes the recipe folder", src)
			} else if _, err := fs.Stat(recipes.FS, dir+"/"+clean); err != nil {
				t.Errorf("file source %q: %v", src, err)
			}
		}
	case "run":
		var script string
		switch b := body.(type) {
		case string:
			script = b
		case map[string]any:
			script, _ = asString(b["script"])
			if v, ok := b["timeout"]; ok {
				if s, _ := asString(v); !durRe.MatchString(s) {
					t.Errorf("run timeout %v", v)
				}
			}
		default:
			t.Errorf("run step is %T", body)
		}
		// A script of several commands must stop at the first failure.
		if strings.TrimSpace(script) == "" {
			t.Errorf("run step without script")
		} else if strings.Count(strings.TrimSpace(script), "\n") > 0 && !strings.HasPrefix(script, "set -e\n") {
			t.Errorf("multi-line run script does not start with \"set -e\": %.40q", script)
		}
	case "service":
		s := asMap(body)
		if n, _ := asString(s["name"]); n == "" {
			t.Errorf("service step without name")
		}
		if st, ok := s["state"]; ok {
			switch st {
			case "started", "stopped", "restarted", "reloaded":
			default:
				t.Errorf("service state %v", st)
			}
		}
	case "user":
		if n, _ := asString(asMap(body)["name"]); n == "" {
			t.Errorf("user step without name")
		}
	case "apt_repo", "download":
		t.Errorf("built-in recipes install from Debian 12 packages only; found a %s step", kind)
	}
}

// TestEveryFolderEmbedded catches a recipe folder added on disk but not
// listed in the go:embed directive, and files in FS that no recipe uses.
func TestEveryFolderEmbedded(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var onDisk, inFS []string
	for _, e := range entries {
		if e.IsDir() {
			if _, err := os.Stat(e.Name() + "/recipe.yaml"); err == nil {
				onDisk = append(onDisk, e.Name())
			}
		}
	}
	fsEntries, _ := fs.ReadDir(recipes.FS, ".")
	for _, e := range fsEntries {
		inFS = append(inFS, e.Name())
	}
	sort.Strings(onDisk)
	sort.Strings(inFS)
	if strings.Join(onDisk, " ") != strings.Join(inFS, " ") {
		t.Errorf("recipe folders on disk:\n  %v\nembedded:\n  %v", onDisk, inFS)
	}
	err = fs.WalkDir(recipes.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, ".go") {
			t.Errorf("Go source %s leaked into FS", p)
		}
		if d.IsDir() || path.Base(p) == "recipe.yaml" {
			return nil
		}
		dir := strings.SplitN(p, "/", 2)
		b, err := fs.ReadFile(recipes.FS, dir[0]+"/recipe.yaml")
		if err == nil && !strings.Contains(string(b), "source: "+dir[1]) {
			t.Errorf("%s is shipped but recipe.yaml never uses it", p)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// TestRecipesListenOnAllAddresses is a heuristic: every built-in recipe must
// be reachable from other containers, so each one must either say in a comment
// why Debian's default already listens everywhere or change the bind address.
func TestRecipesListenOnAllAddresses(t *testing.T) {
	localOnly := regexp.MustCompile(`(?m)^[^#\n]*(bind|listen|interface|address)[^#\n]*(127\.0\.0\.1|localhost|::1)\b`)
	for _, r := range loadAll(t) {
		b, _ := fs.ReadFile(recipes.FS, r.dir+"/recipe.yaml")
		text := string(b)
		if !regexp.MustCompile(`(?i)((all|every) (ipv4 )?address|0\.0\.0\.0|listen_addresses = '\*'|\binterface: 0\.0\.0\.0|::)`).MatchString(text) {
			t.Errorf("%s: nothing says how the service listens on the container's address", r.dir)
		}
		for _, l := range localOnly.FindAllString(text, -1) {
			if !strings.Contains(l, "health") && !strings.Contains(l, "pg_isready") {
				t.Errorf("%s: line binds to loopback only: %q", r.dir, strings.TrimSpace(l))
			}
		}
	}
}

// TestReadmeTable keeps the "Shipped recipes" table of README.md in step with
// the recipe files: one row per recipe, with its category, ports and probe.
func TestReadmeTable(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "## Shipped recipes")
	if !ok {
		t.Fatal(`README.md has no "## Shipped recipes" section`)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "## ") {
			break
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if !strings.HasPrefix(line, "| `") || len(cells) != 4 {
			continue
		}
		name := strings.Trim(cells[0], "`")
		if _, dup := rows[name]; dup {
			t.Errorf("README lists %s twice", name)
		}
		rows[name] = cells
	}
	for _, r := range loadAll(t) {
		cells, ok := rows[r.dir]
		if !ok {
			t.Errorf("README table has no row for %s", r.dir)
			continue
		}
		delete(rows, r.dir)
		var ports []string
		for _, p := range asList(asMap(r.doc["container"])["ports"]) {
			ports = append(ports, fmt.Sprint(p))
		}
		h := asMap(r.doc["health"])
		probe := "cmd"
		if p, ok := h["tcp"]; ok {
			probe = fmt.Sprintf("tcp %v", p)
		} else if hp := asMap(h["http"]); hp != nil {
			path, ok := asString(hp["path"])
			if !ok {
				path = "/"
			}
			probe = fmt.Sprintf("http %v %s", hp["port"], path)
		}
		want := []string{"`" + r.dir + "`", fmt.Sprint(r.doc["category"]), strings.Join(ports, ", "), "`" + probe + "`"}
		if strings.Join(cells, " | ") != strings.Join(want, " | ") {
			t.Errorf("README row for %s:\n got  | %s |\n want | %s |", r.dir, strings.Join(cells, " | "), strings.Join(want, " | "))
		}
	}
	for name := range rows {
		t.Errorf("README lists %s, which is not a recipe", name)
	}
}
