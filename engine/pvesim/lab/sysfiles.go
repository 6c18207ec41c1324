package lab

import (
	"fmt"
	"os"
	"strings"
)

// subIDLine is the id range unprivileged lab containers map root to.
const subIDLine = "root:100000:65536"

// hasLine reports whether path already has line (a missing file has none).
func hasLine(path, line string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) == line {
			return true, nil
		}
	}
	return false, nil
}

// ensureLine appends line to path unless a line already grants it. It
// reports whether it changed the file, so Down removes only what Up added.
func ensureLine(path, line string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) == line {
			return false, nil
		}
	}
	s := string(b)
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	s += line + "\n"
	if err := writeFileKeepMode(path, []byte(s), 0o644); err != nil {
		return false, err
	}
	return true, nil
}

// removeLine deletes one occurrence of line from path (the one Up added).
func removeLine(path, line string) error {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.TrimSpace(lines[i]) == line {
			lines = append(lines[:i], lines[i+1:]...)
			return writeFileKeepMode(path, []byte(strings.Join(lines, "")), 0o644)
		}
	}
	return nil
}

// writeFileKeepMode replaces path atomically, keeping its mode.
func writeFileKeepMode(path string, b []byte, mode os.FileMode) error {
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp := path + ".pvelab-tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
