package inventory

import (
	"slices"
	"testing"

	"github.com/kforge/kforge/internal/sweep"
)

// TestKindsCoverSweep: the inventory looks at every kind the sweep deletes,
// under the same name, so a kind added to one and not the other shows here.
func TestKindsCoverSweep(t *testing.T) {
	for _, k := range sweep.Order {
		if !slices.Contains(Kinds, k) {
			t.Errorf("sweep deletes %s but the inventory does not look for it", k)
		}
	}
	for _, k := range Kinds {
		if k != KindObject && !slices.Contains(sweep.Order, k) {
			t.Errorf("the inventory looks for %s, which the sweep does not know", k)
		}
	}
}
