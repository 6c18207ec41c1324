package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestApplyFromGitSource is issue #7's promise end to end on simulated
// nodes: a stack whose recipe comes from a git repository at a tag plans and
// applies; lxcplan.lock pins it; moving the tag upstream stops plan with a
// clear message until `recipes lock --update`.
func TestApplyFromGitSource(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	lab := newApplyLab(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")

	repo := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "init.defaultBranch=main"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	writeRecipe := func(peerDefault string) {
		t.Helper()
		text := strings.Replace(applyRecipe, "default: none", "default: "+peerDefault, 1)
		dir := filepath.Join(repo, "recipes", "app")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "recipe.yaml"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q")
	writeRecipe("none")
	git("add", "-A")
	git("commit", "-q", "-m", "app 1.0.0")
	git("tag", "-a", "-m", "release", "v1.0.0")

	// The lab's stack, with every container's recipe from the repository.
	b, err := os.ReadFile(lab.stack)
	if err != nil {
		t.Fatal(err)
	}
	stack := strings.ReplaceAll(string(b), "recipe: ./app.yaml", "recipe: community/app@1.0.0")
	stack = strings.Replace(stack, "hosts:\n", "sources:\n  community: {git: \"file://"+repo+"\", ref: v1.0.0}\nhosts:\n", 1)
	if err := os.WriteFile(lab.stack, []byte(stack), 0o600); err != nil {
		t.Fatal(err)
	}

	if code, out, errOut := lab.run(t, "recipes", "lock", lab.stack); code != 0 {
		t.Fatalf("recipes lock: exit %d\n%s\n%s", code, out, errOut)
	}
	lockFile := filepath.Join(filepath.Dir(lab.stack), "lxcplan.lock")
	lock, err := os.ReadFile(lockFile)
	if err != nil || !strings.Contains(string(lock), "ref: v1.0.0") {
		t.Fatalf("lxcplan.lock does not pin v1.0.0 (%v):\n%s", err, lock)
	}
	if code, out, errOut := lab.run(t, "plan", "--detailed-exitcode", lab.stack); code != 2 {
		t.Fatalf("plan before apply: exit %d, want 2\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := lab.run(t, "apply", "--yes", lab.stack); code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := lab.run(t, "plan", "--detailed-exitcode", lab.stack); code != 0 {
		t.Fatalf("plan after apply: exit %d, want 0\n%s\n%s", code, out, errOut)
	}

	// Upstream moves the tag to a different recipe.
	writeRecipe("moved")
	git("commit", "-q", "-a", "-m", "change app without a new version")
	git("tag", "-f", "-a", "-m", "moved", "v1.0.0")
	code, out, errOut := lab.run(t, "plan", lab.stack)
	if code != 65 || !strings.Contains(errOut, "lxcplan recipes lock") || !strings.Contains(errOut, "v1.0.0") {
		t.Fatalf("plan after the tag moved: exit %d, want 65 naming the tag and the fix\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := lab.run(t, "recipes", "lock", lab.stack, "--update", "community"); code != 0 {
		t.Fatalf("recipes lock --update: exit %d\n%s\n%s", code, out, errOut)
	}
	// With the lock updated, the plan runs and shows what the new recipe changes.
	if code, out, errOut := lab.run(t, "plan", "--detailed-exitcode", lab.stack); code != 2 {
		t.Fatalf("plan after lock --update: exit %d, want 2\n%s\n%s", code, out, errOut)
	}
}
