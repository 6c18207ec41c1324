package golden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// Like every test package of the module, this one accepts -update so that
// `go test ./... -update` works; define it only if nobody else did.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files (none in this package)")
	}
}

func TestCheckWritesThenMatches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "out.txt")
	f := flag.Lookup("update")
	old := f.Value.String()
	t.Cleanup(func() { f.Value.Set(old) })

	f.Value.Set("true")
	Check(t, path, []byte("hello\n"))
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "hello\n" {
		t.Fatalf("after update: %q, %v", b, err)
	}

	f.Value.Set("false")
	Check(t, path, []byte("hello\n"))
}
