package cni

import (
	"testing"

	"helm.sh/helm/v3/pkg/release"
)

// Helm's Secret storage answers a release's history by Secret name, so
// revision 10 comes before 6: the newest is found by revision number.
func TestNewestIsTheHighestRevision(t *testing.T) {
	history := []*release.Release{{Version: 10}, {Version: 6}, {Version: 9}, {Version: 7}, {Version: 8}}
	if got := newest(history); got == nil || got.Version != 10 {
		t.Errorf("newest of revisions 10, 6, 9, 7, 8: %+v, want 10", got)
	}
	if got := newest(nil); got != nil {
		t.Errorf("newest of no history: %+v, want nil", got)
	}
}
