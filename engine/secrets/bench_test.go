package secrets

import "testing"

// BenchmarkGenerate draws one 32-character alnum value.
func BenchmarkGenerate(b *testing.B) {
	g := Generate{Length: 32}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.New(); err != nil {
			b.Fatal(err)
		}
	}
}
