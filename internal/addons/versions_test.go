package addons

import (
	"slices"
	"strings"
	"testing"

	"github.com/kforge/kforge/internal/config"
)

// Every Kubernetes minor the config accepts must have its add-ons pinned,
// or a cluster would validate and then fail on the control plane; and no
// pin may outlive its minor, or the table drifts from the supported list.
func TestAutoscalerPinsMatchSupportedMinors(t *testing.T) {
	var minors []string
	for _, release := range config.SupportedKubernetesVersions() {
		minors = append(minors, release.Minor)
		image, err := ClusterAutoscalerImage(release.LatestPatch)
		if err != nil {
			t.Errorf("Kubernetes %s is supported by internal/config but: %v", release.LatestPatch, err)
			continue
		}
		if !strings.Contains(image, ":v"+release.Minor+".") {
			t.Errorf("Kubernetes %s gets %s, built for another minor", release.LatestPatch, image)
		}
	}
	for minor := range clusterAutoscalerByMinor {
		if !slices.Contains(minors, minor) {
			t.Errorf("clusterAutoscalerByMinor pins minor %s, which internal/config does not support (%v)", minor, minors)
		}
	}
}

func TestAutoscalerRefusesUnsupportedMinorNamingTheSupportedList(t *testing.T) {
	_, err := ClusterAutoscalerImage("1.20.0")
	if err == nil {
		t.Fatal("1.20.0 accepted")
	}
	for _, r := range config.SupportedKubernetesVersions() {
		if !strings.Contains(err.Error(), r.Minor) {
			t.Errorf("error %q does not name supported minor %s", err, r.Minor)
		}
	}
}

// The fixtures behind the golden manifests must use a version kforge
// supports, or the goldens show a cluster that cannot exist.
func TestFixtureKubernetesVersionIsSupported(t *testing.T) {
	if err := config.CheckKubernetesVersion(testConfig().KubernetesVersion); err != nil {
		t.Error(err)
	}
}
