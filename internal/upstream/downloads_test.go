package upstream

import "testing"

func TestDownloadsArePinnedOrMarked(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range Downloads {
		if p := d.Problem(); p != "" {
			t.Errorf("%s: %s", d.Ref, p)
		}
		if seen[d.Ref] {
			t.Errorf("%s listed twice", d.Ref)
		}
		seen[d.Ref] = true
	}
	for _, bad := range []Download{
		{Ref: "x", Kind: KindImage},
		{Ref: "x", Kind: KindImage, Digest: "sha256:abc"},
		{Ref: "x", Kind: KindFile, Digest: "sha256:" + "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12", Unverified: "both"},
		{Ref: "x", Kind: "chart", Unverified: "why"},
		{Ref: "x", Kind: KindImage, Digest: "sha256:" + "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12"},
	} {
		if bad.Problem() == "" {
			t.Errorf("%+v passes the check", bad)
		}
	}
}
