package config

import "fmt"

// Upgrade kinds, as CheckUpgrade reports them.
const (
	UpgradePatch = "patch"
	UpgradeMinor = "minor"
	UpgradeNone  = "none"
)

// CheckUpgrade decides whether a cluster running from may move to to, by
// kubeadm's rules: one minor at a time, never down, and only to a release
// kforge installs. The error names --to and the fix; kind is patch, minor
// or none (already there).
//
// Version skew (https://kubernetes.io/releases/version-skew-policy/): the
// API server moves first, so during the roll the kubelets are one minor
// behind it (allowed: up to three); they are never ahead of it.
func CheckUpgrade(from, to string) (kind string, err error) {
	if why := checkKubernetesVersion(to); why != "" {
		return "", fmt.Errorf("--to %s: %s; %s", to, why, supportedVersionsHint())
	}
	fMaj, fMin, fPatch, err := parseKubernetesVersion(from)
	if err != nil {
		return "", fmt.Errorf("the cluster's kubernetes.version %s: %w; fix kubernetes.version in the environment file first", from, err)
	}
	tMaj, tMin, tPatch, _ := parseKubernetesVersion(to)
	switch {
	case tMaj != fMaj:
		return "", fmt.Errorf("--to %s: a change of major version from %s is not an upgrade kubeadm performs", to, from)
	case tMin < fMin || (tMin == fMin && tPatch < fPatch):
		return "", fmt.Errorf("--to %s: that is a downgrade from %s, which kubeadm does not support (etcd and API objects may already use the newer schema); restore a backup taken before the upgrade instead, or pick a version >= %s", to, from, from)
	case tMin > fMin+1:
		return "", fmt.Errorf("--to %s: skips minor %d.%d; kubeadm upgrades one minor at a time: run `kforge upgrade --to %s` first, then --to %s", to, fMaj, fMin+1, latestPatchOf(fMaj, fMin+1), to)
	case tMin == fMin+1:
		return UpgradeMinor, nil
	case tPatch > fPatch:
		return UpgradePatch, nil
	}
	return UpgradeNone, nil
}

// latestPatchOf is the newest known patch of major.minor, or "major.minor.x".
func latestPatchOf(major, minor int) string {
	for _, r := range supportedKubernetesReleases {
		if r.Minor == fmt.Sprintf("%d.%d", major, minor) {
			return r.LatestPatch
		}
	}
	return fmt.Sprintf("%d.%d.x", major, minor)
}
