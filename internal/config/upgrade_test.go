package config

import (
	"strings"
	"testing"
)

func TestCheckUpgrade(t *testing.T) {
	for _, c := range []struct {
		from, to, kind, err string
	}{
		{"1.35.10", "1.36.6", UpgradeMinor, ""},
		{"1.36.1", "1.36.6", UpgradePatch, ""},
		{"1.36.6", "1.36.6", UpgradeNone, ""},
		{"1.36.6", "1.35.10", "", "downgrade from 1.36.6"},
		{"1.36.6", "1.36.2", "", "downgrade from 1.36.6"},
		{"1.34.3", "1.36.6", "", "skips minor 1.35; kubeadm upgrades one minor at a time: run `kforge upgrade --to 1.35.10` first"},
		{"1.36.6", "1.37.0", "", "1.37 is not a supported minor release"},
		{"1.36.6", "1.36.60", "", "newer than the newest known 1.36 patch"},
		{"1.36.6", "v1.36.6", "", "without the leading v"},
		{"1.36.6", "2.0.0", "", "not a supported minor"},
	} {
		kind, err := CheckUpgrade(c.from, c.to)
		switch {
		case c.err == "" && (err != nil || kind != c.kind):
			t.Errorf("%s -> %s: kind %q, error %v; want %q", c.from, c.to, kind, err, c.kind)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || !strings.HasPrefix(err.Error(), "--to ")):
			t.Errorf("%s -> %s: error %v; want one naming --to and containing %q", c.from, c.to, err, c.err)
		}
	}
}
