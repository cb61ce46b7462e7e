package addons

import (
	"testing"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/upstream"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Every image the add-ons run, for every supported Kubernetes minor, and
// every file the agent downloads is in upstream.Downloads, pinned or marked.
func TestDownloadsCoverEveryArtefact(t *testing.T) {
	want := map[string]bool{}
	for _, r := range config.SupportedKubernetesVersions() {
		c := testConfig()
		c.KubernetesVersion = r.LatestPatch
		manifests, err := Render(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, obj := range decodeStrict(t, manifests) {
			var spec corev1.PodSpec
			switch o := obj.(type) {
			case *appsv1.Deployment:
				spec = o.Spec.Template.Spec
			case *appsv1.DaemonSet:
				spec = o.Spec.Template.Spec
			default:
				continue
			}
			for _, c := range append(spec.InitContainers, spec.Containers...) {
				want[c.Image] = true
			}
		}
	}
	for _, r := range Remotes() {
		want[r.URL] = true
	}
	for ref := range want {
		d, ok := upstream.FindDownload(ref)
		if !ok {
			t.Errorf("%s is downloaded but not in upstream.Downloads", ref)
			continue
		}
		if p := d.Problem(); p != "" {
			t.Errorf("%s: %s", ref, p)
		}
	}
}
