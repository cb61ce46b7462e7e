package addons

import (
	"strings"
	"testing"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/upstream"
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
		for _, spec := range podSpecs(decodeStrict(t, manifests)) {
			for _, c := range append(spec.InitContainers, spec.Containers...) {
				want[upstream.UnpinnedRef(c.Image)] = true
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

// A digest in the table reaches the rendered images and the agent's check of
// the fetched bundles; without one they stay as published (by tag).
func TestPinnedDigestsReachImagesAndBundles(t *testing.T) {
	saved := upstream.Downloads
	t.Cleanup(func() { upstream.Downloads = saved })
	digest := "sha256:" + strings.Repeat("ab", 32)
	upstream.Downloads = nil
	for _, d := range saved {
		if d.Ref == TraefikImage || d.Kind == upstream.KindFile {
			d.Digest, d.Unverified = digest, ""
		}
		upstream.Downloads = append(upstream.Downloads, d)
	}
	manifests, err := Render(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	images := map[string]bool{}
	for _, spec := range podSpecs(decodeStrict(t, manifests)) {
		for _, c := range spec.Containers {
			images[c.Image] = true
		}
	}
	if !images[TraefikImage+"@"+digest] {
		t.Errorf("Traefik not pinned to %s; images %v", digest, images)
	}
	if !images[MetricsServerImage] {
		t.Errorf("metrics-server (no digest in the table) changed; images %v", images)
	}
	for _, r := range Remotes() {
		if r.SHA256 != strings.TrimPrefix(digest, "sha256:") {
			t.Errorf("%s: agent would check %q, want the table's digest", r.Name, r.SHA256)
		}
	}
}
