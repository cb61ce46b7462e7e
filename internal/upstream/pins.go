// Package upstream holds the upstream files kforge vendors, and the one table
// that pins them: where each came from, its licence and its SHA-256. Nodes
// install Cilium from the chart embedded here (never from the internet), and
// the conformance suite installs the same chart and cert-manager's CRDs into
// a real API server. TestPins checks every vendored byte against this table.
//
// To update a pin: take the file from the upstream repository at the new tag,
// replace it here, and update its row's SHA-256; a new release also changes
// the tag and commit in its constructor (ciliumPin, certManagerPin).
package upstream

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
)

// Pin is one vendored upstream file.
type Pin struct {
	Path       string // relative to this directory
	Repository string // upstream repository
	Ref        string // release tag the file belongs to
	Commit     string // upstream commit the file was taken from
	Source     string // path in the upstream repository
	Licence    string // SPDX identifier
	LicenceIn  string // vendored licence file (relative to this directory)
	SHA256     string
}

// CiliumChartVersion is the version of the vendored Cilium chart.
const CiliumChartVersion = "1.18.4"

// CertManagerVersion is the release the vendored cert-manager CRDs belong to.
const CertManagerVersion = "v1.19.1"

// Pins is the one table of vendored upstream files. The Cilium chart is the
// packaged chart that cilium/charts publishes for 1.18.4 (its SHA-256 equals
// the digest in that repository's index.yaml); cert-manager's CRDs are the
// deploy/crds sources at the v1.19.1 tag.
var Pins = []Pin{
	ciliumPin("cilium/cilium-1.18.4.tgz", "cilium-1.18.4.tgz",
		"c361ca567b319af64b82736ab4c5927a201b1f5dbae4e909c7aeaabce0571299"),
	ciliumPin("cilium/LICENSE", "cilium-1.18.4.tgz:cilium/LICENSE",
		"f096c31ac0fb2e66df5b7ec20049741ae15accd50c8cd4d100b4db6c9353f6aa"),
	certManagerPin("cert-manager/crds/acme.cert-manager.io_challenges.yaml", "deploy/crds/acme.cert-manager.io_challenges.yaml",
		"4df5e6ed266167174379f0a01a685e421b8a1640c1c56a32a7a7a220e27b18da"),
	certManagerPin("cert-manager/crds/acme.cert-manager.io_orders.yaml", "deploy/crds/acme.cert-manager.io_orders.yaml",
		"04d683cb98ab2785dcc85339d4fcf501b1e50dc6fd9d425bebbb580b5219324b"),
	certManagerPin("cert-manager/crds/cert-manager.io_certificaterequests.yaml", "deploy/crds/cert-manager.io_certificaterequests.yaml",
		"f1faff122ec19793214ecab644f39f47294f60ca4d9fca0534a8f17b305dd2f7"),
	certManagerPin("cert-manager/crds/cert-manager.io_certificates.yaml", "deploy/crds/cert-manager.io_certificates.yaml",
		"7c99af3441710ffb4c0988c87a36a1448b293d4c99bf4e5ca8d3adbfc1f63b3e"),
	certManagerPin("cert-manager/crds/cert-manager.io_clusterissuers.yaml", "deploy/crds/cert-manager.io_clusterissuers.yaml",
		"3d71d9faf472b2c1fdc49639b3896c4b373bdeff41f25bd9f502a4bd1f14a538"),
	certManagerPin("cert-manager/crds/cert-manager.io_issuers.yaml", "deploy/crds/cert-manager.io_issuers.yaml",
		"a7ffbadca04b32f3bbce923d545291abb032dddb659791f6e2872dd323513a52"),
	certManagerPin("cert-manager/LICENSE", "LICENSE",
		"c71d239df91726fc519c6eb72d318ec65820627232b2f796219e87dcf35d0ab4"),
}

// ciliumPin is a file of the packaged Cilium chart release.
func ciliumPin(path, source, sha256 string) Pin {
	return Pin{Path: path, Repository: "github.com/cilium/charts", Ref: CiliumChartVersion,
		Commit: "1f2170fc6c1169adbfbc2b5b239b1c6fffb729e6", Source: source,
		Licence: "Apache-2.0", LicenceIn: "cilium/LICENSE", SHA256: sha256}
}

// certManagerPin is a file of cert-manager's repository at its release tag.
func certManagerPin(path, source, sha256 string) Pin {
	return Pin{Path: path, Repository: "github.com/cert-manager/cert-manager", Ref: CertManagerVersion,
		Commit: "a22e21ea38f6a8e031af99471b0a50287fed8e7f", Source: source,
		Licence: "Apache-2.0", LicenceIn: "cert-manager/LICENSE", SHA256: sha256}
}

//go:embed cilium/cilium-1.18.4.tgz
var ciliumChart []byte

// ciliumChartPin is the row of the embedded chart.
const ciliumChartPin = "cilium/cilium-1.18.4.tgz"

// Lookup returns the pin of a vendored path.
func Lookup(path string) (Pin, error) {
	for _, p := range Pins {
		if p.Path == path {
			return p, nil
		}
	}
	return Pin{}, fmt.Errorf("upstream: %s is not in the pins table", path)
}

// Verify checks data against the pinned SHA-256 of path.
func Verify(path string, data []byte) error {
	p, err := Lookup(path)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != p.SHA256 {
		return fmt.Errorf("upstream: %s has SHA-256 %s, pinned %s (%s %s)", path, got, p.SHA256, p.Repository, p.Ref)
	}
	return nil
}

// CiliumChart returns the packaged Cilium chart (.tgz), verified against its
// pin, so that a node installs exactly the reviewed bytes.
func CiliumChart() ([]byte, error) {
	if err := Verify(ciliumChartPin, ciliumChart); err != nil {
		return nil, err
	}
	return ciliumChart, nil
}
