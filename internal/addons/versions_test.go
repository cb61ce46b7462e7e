package addons

import (
	"testing"

	"github.com/kforge/kforge/internal/config"
)

// Every Kubernetes minor the config accepts must have its add-ons pinned,
// or a cluster would validate and then fail on the control plane.
func TestEverySupportedKubernetesMinorHasAnAutoscaler(t *testing.T) {
	for _, release := range config.SupportedKubernetesVersions() {
		if _, err := ClusterAutoscalerImage(release.LatestPatch); err != nil {
			t.Errorf("Kubernetes %s is supported by internal/config but: %v", release.LatestPatch, err)
		}
	}
}
