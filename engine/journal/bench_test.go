package journal

import (
	"path/filepath"
	"testing"
)

// BenchmarkBeginDone measures one journaled step (two fsync'd records) on
// the test machine's temporary directory.
func BenchmarkBeginDone(b *testing.B) {
	j, err := Open(filepath.Join(b.TempDir(), "bench.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	s := createStep("pve1", "db", 101)
	b.ReportAllocs()
	for b.Loop() {
		id, err := j.Begin(s)
		if err != nil {
			b.Fatal(err)
		}
		if err := j.Done(id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRead parses a journal of 1000 steps.
func BenchmarkRead(b *testing.B) {
	path := filepath.Join(b.TempDir(), "read.jsonl")
	j, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		id, _ := j.Begin(createStep("pve1", "db", 100+i))
		_ = j.Done(id)
	}
	j.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Read(path); err != nil {
			b.Fatal(err)
		}
	}
}
