package upstream

import (
	"regexp"
	"strings"
)

// Download is an artefact fetched from the network when a cluster is built
// or runs (unlike Pins, which are vendored here). Every one has either a
// Digest pinned here or an Unverified reason saying why not yet; `make
// pins` resolves the digests on a machine with network access and checks
// the pinned ones (scripts/pins). No digest is ever invented.
type Download struct {
	// Ref is the image reference (registry/repository:tag) or the URL.
	Ref  string
	Kind string // "image" or "file"
	// Digest is sha256:<64 hex> of the image manifest list or of the file.
	Digest string
	// Source is where Digest was read: the publisher's own record of the
	// tag (for registry.k8s.io, the image promoter's manifest, which is
	// what the registry serves), so a reviewer can check it.
	Source string
	// Unverified says why Digest is empty and what checks the artefact
	// meanwhile; empty when Digest is set.
	Unverified string
}

// Download kinds.
const (
	KindImage = "image"
	KindFile  = "file"
)

const notResolvedOffline = "digest not resolvable offline; pulled by tag over TLS from the registry; make pins resolves it"

// sigStoragePromoter is the image promoter's manifest for registry.k8s.io's
// sig-storage images, at the commit whose dmap was read for each tag.
const sigStoragePromoter = "github.com/kubernetes/k8s.io registry.k8s.io/images/k8s-staging-sig-storage/images.yaml @ 0279c5e0c09cb9a8736659960cf0de2a2f27abaa"

// Downloads lists every artefact the nodes fetch. TestDownloadsCoverEveryArtefact
// (internal/addons) fails when a rendered image or a fetched URL is missing
// here; TestDownloadsArePinnedOrMarked fails on an entry with neither a
// digest nor a reason.
var Downloads = []Download{
	{Ref: "docker.io/library/traefik:v3.7.5", Kind: KindImage, Unverified: notResolvedOffline + " (Docker Hub anonymous pull limits apply, docs/SECURITY.md)"},
	{Ref: "registry.k8s.io/metrics-server/metrics-server:v0.8.1", Kind: KindImage, Unverified: notResolvedOffline},
	{Ref: "public.ecr.aws/efs-csi-driver/amazon/aws-efs-csi-driver:v2.3.0", Kind: KindImage, Unverified: notResolvedOffline},
	{Ref: "registry.k8s.io/sig-storage/csi-provisioner:v5.2.0", Kind: KindImage,
		Digest: "sha256:d5e46da8aff7d73d6f00c761dae94472bcda6e78f4f17b3802dc89d44de0111b", Source: sigStoragePromoter},
	{Ref: "registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.13.0", Kind: KindImage,
		Digest: "sha256:d7138bcc3aa5f267403d45ad4292c95397e421ea17a0035888850f424c7de25d", Source: sigStoragePromoter},
	{Ref: "registry.k8s.io/sig-storage/livenessprobe:v2.15.0", Kind: KindImage,
		Digest: "sha256:2c5f9dc4ea5ac5509d93c664ae7982d4ecdec40ca7b0638c24e5b16243b8360f", Source: sigStoragePromoter},
	{Ref: "registry.k8s.io/autoscaling/cluster-autoscaler:v1.35.1", Kind: KindImage, Unverified: notResolvedOffline},
	{Ref: "registry.k8s.io/autoscaling/cluster-autoscaler:v1.36.0", Kind: KindImage, Unverified: notResolvedOffline},
	{Ref: "https://github.com/cert-manager/cert-manager/releases/download/v1.19.1/cert-manager.yaml", Kind: KindFile,
		Unverified: "SHA-256 not known offline; the agent logs the digest it fetched and enforces the Digest set here; make pins resolves it"},
}

var digestPattern = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)

// Problem returns why d is neither pinned nor explicitly marked, or "".
func (d Download) Problem() string {
	switch {
	case d.Kind != KindImage && d.Kind != KindFile:
		return "kind must be image or file"
	case d.Digest != "" && !digestPattern.MatchString(d.Digest):
		return "digest is not sha256:<64 hex>"
	case d.Digest != "" && d.Unverified != "":
		return "a pinned digest needs no Unverified reason"
	case d.Digest != "" && d.Source == "":
		return "a pinned digest needs its Source (where the publisher records it)"
	case d.Digest == "" && d.Unverified == "":
		return "neither a digest nor an Unverified reason"
	}
	return ""
}

// FindDownload returns the entry for ref.
func FindDownload(ref string) (Download, bool) {
	for _, d := range Downloads {
		if d.Ref == ref {
			return d, true
		}
	}
	return Download{}, false
}

// PinnedRef returns ref with its pinned digest (ref@sha256:…) when the table
// pins one, so that a node pulls exactly the reviewed image; otherwise ref,
// as the table's Unverified reason says.
func PinnedRef(ref string) string {
	if d, ok := FindDownload(ref); ok && d.Digest != "" {
		return ref + "@" + d.Digest
	}
	return ref
}

// UnpinnedRef strips a digest PinnedRef added, giving the table's key.
func UnpinnedRef(ref string) string {
	if i := strings.Index(ref, "@sha256:"); i >= 0 {
		return ref[:i]
	}
	return ref
}
