// Package secrets keeps a stack's generated secret values on the cluster and
// nowhere else: one root-only file per value,
// /etc/pve/priv/lxcplan/<stack>/<container>.<param>, holding exactly the
// value. /etc/pve is the same on every node, so any node of the cluster can
// read them; /etc/pve/priv is readable by root only (pve-reference.md §14).
//
// Rules the code keeps:
//   - A value travels only on a command's stdin or stdout, never in argv
//     (argv shows up in traces, dry-run output and `ps`), and never in an
//     error message.
//   - Every value read or generated is registered with the run's
//     [Registrar] before anything else happens with it, so that it is masked
//     in every later trace, log and error.
//   - A value, once stored, is never overwritten: creation is "create if
//     absent, then read back what is there", so even a lost race ends with
//     both runs using the stored value. (Runs of one stack are serialised by
//     its lock anyway.)
//   - Secrets survive a replace; only [Store.DeleteContainer], on destroy,
//     removes them.
package secrets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/lxcplan/lxcplan/engine/transport"
)

// DefaultDir is the cluster-wide, root-only home of lxcplan's secrets.
const DefaultDir = "/etc/pve/priv/lxcplan"

// Error classes; branch with errors.Is.
var (
	// ErrInvalidName: a stack, container or param name cannot name a file.
	ErrInvalidName = errors.New("invalid secret name")
	// ErrNoRegistrar: a Store was used without a Registrar, which would let
	// values escape unmasked.
	ErrNoRegistrar = errors.New("secret store has no registrar")
	// ErrMalformed: the host's answer could not be parsed.
	ErrMalformed = errors.New("malformed secret store output")
)

// Names become path components on the host, so they are checked here even
// though the schema checked them before: stack and container names follow
// stack.schema.json, params recipe.schema.json (a little wider). None may
// contain a dot, which separates container and param in file names.
var (
	stackRe     = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	containerRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)
	paramRe     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
)

// Store reads and writes one stack's secrets through a runner on any node of
// the cluster. Use it through a pointer; it is safe for concurrent use.
type Store struct {
	Runner transport.Runner
	Stack  string
	// Redactor receives every value read or generated. Required.
	Redactor Registrar
	// Dir overrides [DefaultDir] (tests, lab).
	Dir string

	mu     sync.Mutex
	cache  map[key]string
	loaded bool // cache holds everything on the host
}

type key struct{ container, param string }

func (s *Store) stackDir() (string, error) {
	if s.Redactor == nil {
		return "", ErrNoRegistrar
	}
	if !stackRe.MatchString(s.Stack) {
		return "", fmt.Errorf("%w: stack %q", ErrInvalidName, s.Stack)
	}
	d := s.Dir
	if d == "" {
		d = DefaultDir
	}
	return path.Join(d, s.Stack), nil
}

func (s *Store) file(container, param string) (dir, file string, err error) {
	dir, err = s.stackDir()
	if err != nil {
		return "", "", err
	}
	if !containerRe.MatchString(container) {
		return "", "", fmt.Errorf("%w: container %q", ErrInvalidName, container)
	}
	if !paramRe.MatchString(param) {
		return "", "", fmt.Errorf("%w: param %q", ErrInvalidName, param)
	}
	return dir, path.Join(dir, container+"."+param), nil
}

func (s *Store) remember(k key, v string) {
	s.Redactor.Add(v)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache == nil {
		s.cache = map[key]string{}
	}
	s.cache[k] = v
}

func (s *Store) cached(k key) (v string, ok, complete bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok = s.cache[k]
	return v, ok, s.loaded
}

// getScript prints file $1, or exits 3 when it does not exist.
const getScript = `test -f "$1" || exit 3
cat -- "$1"`

// Get returns the stored value of container's param, and whether there is one.
func (s *Store) Get(ctx context.Context, container, param string) (string, bool, error) {
	_, f, err := s.file(container, param)
	if err != nil {
		return "", false, fmt.Errorf("get secret: %w", err)
	}
	k := key{container, param}
	if v, ok, complete := s.cached(k); ok || complete {
		return v, ok, nil
	}
	res, err := s.Runner.Run(ctx, transport.Command{
		// A constant script; the path comes in as a positional parameter.
		Argv:     []string{"sh", "-c", getScript, "sh", f},
		ReadOnly: true,
	})
	var ee *transport.ExitError
	if errors.As(err, &ee) && ee.Code == 3 {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("get secret %s.%s of stack %q: %w", container, param, s.Stack, err)
	}
	v := value(res.Stdout)
	s.remember(k, v)
	return v, true, nil
}

// createScript stores stdin as file $2 in directory $1 unless the file
// already exists, then prints the stored value (ours, or the one that was
// there). The value goes to a temporary file first and is published with a
// no-clobber rename: renames are atomic on pmxcfs, truncating writes are not.
// umask 077 keeps it root-only on a plain directory too (pmxcfs makes
// everything under priv root-only itself).
const createScript = `umask 077
mkdir -p -- "$1" || exit 1
if test -f "$2"; then cat -- "$2"; exit; fi
t="$2.new.$$"
cat > "$t" || { rm -f -- "$t"; exit 1; }
mv -n -- "$t" "$2" 2>/dev/null
rm -f -- "$t"
cat -- "$2"`

// GetOrCreate returns container's param, generating and storing it the first
// time. The value generated is registered before it is sent anywhere.
func (s *Store) GetOrCreate(ctx context.Context, container, param string, gen Generate) (string, error) {
	dir, f, err := s.file(container, param)
	if err != nil {
		return "", fmt.Errorf("create secret: %w", err)
	}
	if v, ok, err := s.Get(ctx, container, param); err != nil || ok {
		return v, err
	}
	v, err := gen.New()
	if err != nil {
		return "", fmt.Errorf("create secret %s.%s of stack %q: %w", container, param, s.Stack, err)
	}
	s.Redactor.Add(v)
	res, err := s.Runner.Run(ctx, transport.Command{
		// A constant script; the paths come in as positional parameters and
		// the value on stdin.
		Argv:   []string{"sh", "-c", createScript, "sh", dir, f},
		Stdin:  strings.NewReader(v),
		Redact: []string{v},
	})
	if err != nil {
		return "", fmt.Errorf("create secret %s.%s of stack %q: %w", container, param, s.Stack, err)
	}
	stored := value(res.Stdout)
	if stored == "" {
		return "", fmt.Errorf("create secret %s.%s of stack %q: %w: empty value read back", container, param, s.Stack, ErrMalformed)
	}
	s.remember(key{container, param}, stored)
	return stored, nil
}

// loadScript prints every secret file of directory $1 as NAME NUL VALUE NUL
// (NUL cannot occur in a value or a file name). No directory: no secrets.
const loadScript = `test -d "$1" || exit 0
cd -- "$1" || exit 1
for f in *; do
  case $f in *.new.*) continue;; esac
  test -f "$f" || continue
  printf '%s\0' "$f"
  cat -- "$f" || exit 1
  printf '\0'
done`

// Load reads all of the stack's secrets in one command and returns them as
// container → param → value. Later Get and GetOrCreate calls are answered
// from what it read.
func (s *Store) Load(ctx context.Context) (map[string]map[string]string, error) {
	dir, err := s.stackDir()
	if err != nil {
		return nil, fmt.Errorf("load secrets: %w", err)
	}
	res, err := s.Runner.Run(ctx, transport.Command{
		// A constant script; the path comes in as a positional parameter.
		Argv:     []string{"sh", "-c", loadScript, "sh", dir},
		ReadOnly: true,
	})
	if err != nil {
		return nil, fmt.Errorf("load secrets of stack %q: %w", s.Stack, err)
	}
	out, err := parseLoad(res.Stdout)
	if err != nil {
		return nil, fmt.Errorf("load secrets of stack %q: %w", s.Stack, err)
	}
	all := map[key]string{}
	for c, ps := range out {
		for p, v := range ps {
			s.Redactor.Add(v)
			all[key{c, p}] = v
		}
	}
	s.mu.Lock()
	s.cache, s.loaded = all, true
	s.mu.Unlock()
	return out, nil
}

// parseLoad splits loadScript's output. Files whose names are not
// CONTAINER.PARAM (left by hand, say) are skipped. Errors never quote the
// output, which holds secrets.
func parseLoad(b []byte) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	if len(b) == 0 {
		return out, nil
	}
	if b[len(b)-1] != 0 {
		return nil, fmt.Errorf("%w: output does not end with a NUL byte", ErrMalformed)
	}
	parts := bytes.Split(b[:len(b)-1], []byte{0})
	if len(parts)%2 != 0 {
		return nil, fmt.Errorf("%w: %d fields, want name/value pairs", ErrMalformed, len(parts))
	}
	for i := 0; i < len(parts); i += 2 {
		c, p, ok := strings.Cut(string(parts[i]), ".")
		if !ok || !containerRe.MatchString(c) || !paramRe.MatchString(p) {
			continue
		}
		if out[c] == nil {
			out[c] = map[string]string{}
		}
		out[c][p] = value(parts[i+1])
	}
	return out, nil
}

// value is a file's content as a secret: one trailing newline (an editor's)
// is not part of it.
func value(b []byte) string {
	s := string(b)
	s = strings.TrimSuffix(s, "\n")
	return strings.TrimSuffix(s, "\r")
}

// deleteScript removes container $2's files from directory $1, and the
// directory once it is empty.
const deleteScript = `test -d "$1" || exit 0
cd -- "$1" || exit 1
rm -f -- "$2".* || exit 1
cd / && rmdir -- "$1" 2>/dev/null
exit 0`

// DeleteContainer removes every secret of container. Call it when the
// container is destroyed, never on replace: a replaced container keeps its
// passwords, so the data it finds (or its dependents hold) still matches.
func (s *Store) DeleteContainer(ctx context.Context, container string) error {
	dir, err := s.stackDir()
	if err != nil {
		return fmt.Errorf("delete secrets: %w", err)
	}
	if !containerRe.MatchString(container) {
		return fmt.Errorf("delete secrets: %w: container %q", ErrInvalidName, container)
	}
	if _, err := s.Runner.Run(ctx, transport.Command{
		// A constant script; the path and name come in as positional parameters.
		Argv: []string{"sh", "-c", deleteScript, "sh", dir, container},
	}); err != nil {
		return fmt.Errorf("delete secrets of %s in stack %q: %w", container, s.Stack, err)
	}
	s.mu.Lock()
	for k := range s.cache {
		if k.container == container {
			delete(s.cache, k)
		}
	}
	s.mu.Unlock()
	return nil
}
