package config

import (
	"fmt"
	"strconv"
	"strings"
)

// KubernetesRelease is one supported Kubernetes minor release and the newest
// patch release kforge knows of.
type KubernetesRelease struct {
	Minor       string // "1.36"
	LatestPatch string // "1.36.6"
}

// kubernetesReleasesCheckedOn is when supportedKubernetesReleases was last
// compared with the published releases (the k8s.io/api tags v0.MINOR.PATCH on
// the Go module proxy follow Kubernetes patch releases one to one).
const kubernetesReleasesCheckedOn = "2026-11-25"

// supportedKubernetesReleases is the one list of Kubernetes versions kforge
// installs. A minor is listed only once every add-on has a release pinned for
// it (Cluster Autoscaler is built per minor; internal/addons tests that), so
// 1.37 waits for its autoscaler pin. Update it (and kubernetesReleasesCheckedOn) when a patch release
// ships; patches newer than LatestPatch are refused so typos like 1.36.60
// fail early instead of on the node. After adding or removing a minor, `make
// golden` renders the list into the root module (kubernetes_versions.tf).
var supportedKubernetesReleases = []KubernetesRelease{
	{Minor: "1.35", LatestPatch: "1.35.10"},
	{Minor: "1.36", LatestPatch: "1.36.6"},
}

// DefaultKubernetesVersion is installed when kubernetes.version is not set.
const DefaultKubernetesVersion = "1.36.6"

// SupportedKubernetesVersions returns the supported minor releases, oldest
// first, with the newest known patch of each. Add-ons pick their versions by
// the minor.
func SupportedKubernetesVersions() []KubernetesRelease {
	out := make([]KubernetesRelease, len(supportedKubernetesReleases))
	copy(out, supportedKubernetesReleases)
	return out
}

// KubernetesReleasesCheckedOn returns the date the supported list was checked.
func KubernetesReleasesCheckedOn() string { return kubernetesReleasesCheckedOn }

// KubernetesMinor returns "1.36" for "1.36.6" (or "v1.36.6").
func KubernetesMinor(version string) (string, error) {
	major, minor, _, err := parseKubernetesVersion(version)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d.%d", major, minor), nil
}

// parseKubernetesVersion parses MAJOR.MINOR.PATCH, with an optional leading v.
func parseKubernetesVersion(version string) (major, minor, patch int, err error) {
	parts := strings.Split(strings.TrimPrefix(version, "v"), ".")
	if len(parts) != 3 {
		return 0, 0, 0, fmt.Errorf("%q is not MAJOR.MINOR.PATCH", version)
	}
	nums := make([]int, 3)
	for i, p := range parts {
		n, convErr := strconv.Atoi(p)
		if convErr != nil || n < 0 || (len(p) > 1 && p[0] == '0') {
			return 0, 0, 0, fmt.Errorf("%q is not MAJOR.MINOR.PATCH", version)
		}
		nums[i] = n
	}
	return nums[0], nums[1], nums[2], nil
}

// CheckKubernetesVersion reports why version is not one kforge installs
// (nil when it is). Tests use it to keep fixtures and goldens on a
// supported release.
func CheckKubernetesVersion(version string) error {
	if why := checkKubernetesVersion(version); why != "" {
		return fmt.Errorf("kubernetes version %s", why)
	}
	return nil
}

// checkKubernetesVersion returns "" when version is supported, otherwise why not.
func checkKubernetesVersion(version string) string {
	if strings.HasPrefix(version, "v") {
		return fmt.Sprintf("%q: write the version without the leading v", version)
	}
	major, minor, patch, err := parseKubernetesVersion(version)
	if err != nil {
		return err.Error()
	}
	for _, r := range supportedKubernetesReleases {
		rMajor, rMinor, rPatch, _ := parseKubernetesVersion(r.LatestPatch)
		if rMajor == major && rMinor == minor {
			if patch > rPatch {
				return fmt.Sprintf("%s is newer than the newest known %s patch (%s, list checked on %s)",
					version, r.Minor, r.LatestPatch, kubernetesReleasesCheckedOn)
			}
			return ""
		}
	}
	return fmt.Sprintf("%d.%d is not a supported minor release", major, minor)
}

// supportedVersionsHint lists the supported minors for error fixes.
func supportedVersionsHint() string {
	var parts []string
	for _, r := range supportedKubernetesReleases {
		parts = append(parts, r.LatestPatch)
	}
	return "use one of the supported releases (" + strings.Join(parts, ", ") + ", or an older patch of the same minor)"
}
