package graph

import "testing"

// BenchmarkDOT draws the prod plan: what `kforge graph` adds on top of
// terraform plan (Graphviz excluded).
func BenchmarkDOT(b *testing.B) {
	plan := readPlan(b, "prod")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FromPlan(plan, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
