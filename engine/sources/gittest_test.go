package sources

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// isolateGit keeps the tests away from the user's git configuration, for
// the fixture commands and for the Resolver alike.
func isolateGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	t.Setenv("GIT_CONFIG_GLOBAL", "/dev/null")
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
}

// gitIn runs git in dir for test fixtures and returns its trimmed stdout.
func gitIn(t testing.TB, dir string, args ...string) string {
	t.Helper()
	full := append([]string{"-c", "user.name=lxcplan test", "-c", "user.email=test@lxcplan.invalid",
		"-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", "-C", dir}, args...)
	out, err := exec.Command("git", full...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// recipeYAML is a small valid recipe shipping one file.
func recipeYAML(name, version, desc string) string {
	return fmt.Sprintf(`apiVersion: lxcplan/v1
kind: Recipe
name: %s
version: %s
description: %s
category: testing
container: {os: debian, version: "12"}
install:
  - apt: [nginx]
  - file: {path: /etc/%s.conf, source: files/%s.conf}
health: {tcp: 80}
`, name, version, desc, name, name)
}

// writeRecipe writes recipes/<name>/ with its shipped file into repo.
func writeRecipe(t testing.TB, repo, name, version, desc string) {
	t.Helper()
	dir := filepath.Join(repo, "recipes", name)
	if err := os.MkdirAll(filepath.Join(dir, "files"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(recipeYAML(name, version, desc)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "files", name+".conf"), []byte("# "+desc+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// newOrigin creates a recipe repository with the given recipes at 1.0.0,
// committed on main and tagged v1.0.0 (annotated). It returns its folder and
// file:// URL.
func newOrigin(t testing.TB, names ...string) (string, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "origin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	gitIn(t, dir, "init", "--quiet")
	for _, n := range names {
		writeRecipe(t, dir, n, "1.0.0", "first")
	}
	commitAll(t, dir, "first")
	gitIn(t, dir, "tag", "-a", "-m", "v1.0.0", "v1.0.0")
	return dir, "file://" + dir
}

func commitAll(t testing.TB, dir, msg string) string {
	t.Helper()
	gitIn(t, dir, "add", "-A")
	gitIn(t, dir, "commit", "--quiet", "-m", msg)
	return gitIn(t, dir, "rev-parse", "HEAD")
}
