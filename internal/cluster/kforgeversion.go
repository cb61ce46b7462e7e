package cluster

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/mod/semver"
)

// kforgeBuild is a kforge build version as `make build` stamps it: a
// release tag (v1.4.0), or git describe's count of commits past one
// (v1.4.0-3-gabc1234), either maybe with -dirty.
type kforgeBuild struct {
	tag   string
	ahead int
}

// describedPast matches git describe's "-<commits>-g<hash>" after a tag.
var describedPast = regexp.MustCompile(`^(.+)-([0-9]+)-g[0-9a-f]{4,40}$`)

// parseKforgeBuild reads a build version; ok is false for a build that
// names no release ("dev", a bare commit hash, empty), which cannot be
// ordered against a release.
func parseKforgeBuild(v string) (b kforgeBuild, ok bool) {
	v = strings.TrimSuffix(v, "-dirty")
	if m := describedPast.FindStringSubmatch(v); m != nil {
		n, err := strconv.Atoi(m[2])
		if err != nil {
			return b, false
		}
		v, b.ahead = m[1], n
	}
	if !semver.IsValid(v) || semver.Canonical(v) != v { // not v1.4, nor +build
		return b, false
	}
	b.tag = v
	return b, true
}

// olderThan orders two builds: by release, then by commits past it.
func (b kforgeBuild) olderThan(o kforgeBuild) bool {
	if c := semver.Compare(b.tag, o.tag); c != 0 {
		return c < 0
	}
	return b.ahead < o.ahead
}

// kforgeVersionVerdict compares this kforge's build with the one the
// state records for the last apply. An older release applying over a
// newer one would upload its older agent and rewrite cluster.json in its
// older shape, which the newer agents on the running nodes read, and
// nodes launched later would boot the older agent: up refuses that
// unless allowed (kOps refuses a kops older than the cluster's last one
// the same way). plan only warns. Builds that name no release are not
// ordered.
func kforgeVersionVerdict(env, recorded, running string, applying, allow bool) (note string, err error) {
	last, lastOK := parseKforgeBuild(recorded)
	this, thisOK := parseKforgeBuild(running)
	switch {
	case !lastOK:
		return "", nil
	case !thisOK:
		return fmt.Sprintf("note: the last apply to %s was by kforge %s; this build (%s) names no release, so whether it is older is not known", env, recorded, running), nil
	case !this.olderThan(last):
		return "", nil
	case allow:
		return fmt.Sprintf("note: kforge %s applies over the newer kforge %s of the last apply, as --allow-downgrade asks: nodes launched from now on boot this release's agent", running, recorded), nil
	case !applying:
		return fmt.Sprintf("warning: the last apply to %s was by kforge %s, newer than this kforge %s: `kforge up` refuses to apply this plan without --allow-downgrade", env, recorded, running), nil
	}
	return "", UsageError("the last apply to %s was by kforge %s, newer than this kforge %s. Its apply would upload this release's older agent and rewrite bootstrap/cluster.json in its older shape, which the running nodes' newer agents read, and nodes launched later would boot the older agent. Nothing was planned. Fix: run kforge %s or later; or, to go back to this release on purpose, `kforge up %s --allow-downgrade`, then roll the nodes (docs/OPERATIONS.md, \"A new kforge release\")",
		env, recorded, running, recorded, env)
}

// checkKforgeVersion prints kforgeVersionVerdict's note and returns its
// refusal.
func (e *Env) checkKforgeVersion(recorded string, applying, allow bool) error {
	note, err := kforgeVersionVerdict(e.Name, recorded, e.opts.Version, applying, allow)
	if note != "" {
		e.opts.UI.Notef("%s\n", note)
	}
	return err
}
