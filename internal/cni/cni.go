// Package cni installs Cilium, kforge's CNI, from the chart vendored in
// internal/upstream through the Helm SDK: no CLI and no chart is downloaded
// at boot, and the install is idempotent. A release that already exists (a
// control plane restored from an etcd snapshot still holds it) is upgraded
// in place instead of failing with "cannot re-use a name that is still in
// use".
package cni

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/kforge/kforge/internal/upstream"
)

const (
	// ReleaseName and Namespace are where the cilium CLI installs Cilium,
	// kept so clusters installed by earlier kforge releases are upgraded.
	ReleaseName = "cilium"
	Namespace   = "kube-system"
	// helmDriver stores release state in Secrets, Helm's default.
	helmDriver = "secret"
	// maxHistory bounds the release Secrets kept in kube-system.
	maxHistory = 5
)

// Options tune an install.
type Options struct {
	// Wait makes the install wait until Cilium's workloads are ready.
	Wait    bool
	Timeout time.Duration
	Log     *slog.Logger
}

// Result says what InstallOrUpgrade did.
type Result struct {
	Action   string // "install", "upgrade" or "unchanged"
	Revision int
}

// newest is the release's latest revision (nil for none). The storage
// answers in its own order (by Secret name, so v10 before v6) and ignores
// History.Max.
func newest(history []*release.Release) *release.Release {
	if len(history) == 0 {
		return nil
	}
	return slices.MaxFunc(history, func(a, b *release.Release) int { return cmp.Compare(a.Version, b.Version) })
}

// deployedAs reports whether rel is deployed from chart ch's version with
// exactly values (kforge's whole intent: upgrades reset the values).
func deployedAs(rel *release.Release, ch *chart.Chart, values map[string]any) bool {
	if rel.Info == nil || rel.Info.Status != release.StatusDeployed || rel.Chart == nil || rel.Chart.Metadata == nil || rel.Chart.Metadata.Version != ch.Metadata.Version {
		return false
	}
	// Compared as JSON (map keys sorted): the stored values come back
	// with JSON's types, float64 for kforge's ints.
	stored, err1 := json.Marshal(rel.Config)
	wanted, err2 := json.Marshal(values)
	return err1 == nil && err2 == nil && bytes.Equal(stored, wanted)
}

// Chart loads the vendored Cilium chart after checking it against its pin.
func Chart() (*chart.Chart, error) {
	data, err := upstream.CiliumChart()
	if err != nil {
		return nil, err
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("loading the vendored Cilium chart: %w", err)
	}
	if ch.Metadata.Version != upstream.CiliumChartVersion {
		return nil, fmt.Errorf("vendored Cilium chart says version %s, pinned %s", ch.Metadata.Version, upstream.CiliumChartVersion)
	}
	return ch, nil
}

// Render returns the manifests the chart produces with values for a cluster
// running kubeVersion ("1.36.6"), without contacting any cluster.
func Render(values map[string]any, kubeVersion string) (string, error) {
	ch, err := Chart()
	if err != nil {
		return "", err
	}
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		return "", fmt.Errorf("kubernetes version %q: %w", kubeVersion, err)
	}
	install := action.NewInstall(&action.Configuration{})
	install.ReleaseName, install.Namespace = ReleaseName, Namespace
	install.DryRun, install.ClientOnly, install.IncludeCRDs = true, true, true
	install.KubeVersion = kv
	rel, err := install.Run(ch, values)
	if err != nil {
		return "", fmt.Errorf("rendering the Cilium chart: %w", err)
	}
	return rel.Manifest, nil
}

// InstallOrUpgrade installs the Cilium release with values into the cluster
// that kubeconfig points at, or upgrades it when it exists.
func InstallOrUpgrade(ctx context.Context, kubeconfig string, values map[string]any, opts Options) (Result, error) {
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	ch, err := Chart()
	if err != nil {
		return Result{}, err
	}
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &kubeconfig
	ns := Namespace
	flags.Namespace = &ns
	cfg := &action.Configuration{}
	debug := func(format string, v ...any) { log.Debug(fmt.Sprintf(format, v...), "component", "helm") }
	if err := cfg.Init(flags, Namespace, helmDriver, debug); err != nil {
		return Result{}, fmt.Errorf("helm: connecting with %s: %w", kubeconfig, err)
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 10 * time.Minute
	}

	history, err := action.NewHistory(cfg).Run(ReleaseName)
	switch {
	case errors.Is(err, driver.ErrReleaseNotFound):
		history = nil
	case err != nil:
		return Result{}, fmt.Errorf("helm: reading the history of release %s/%s: %w", Namespace, ReleaseName, err)
	}
	last := newest(history)
	if last != nil && last.Info.Status == release.StatusPendingInstall {
		// An install that was interrupted left nothing usable; start again.
		log.Warn("removing an interrupted Cilium install", "release", ReleaseName, "revision", last.Version)
		un := action.NewUninstall(cfg)
		un.Timeout = timeout
		if _, err := un.Run(ReleaseName); err != nil {
			return Result{}, fmt.Errorf("helm: removing the interrupted install of %s/%s: %w", Namespace, ReleaseName, err)
		}
		last = nil
	}

	if last == nil {
		install := action.NewInstall(cfg)
		install.ReleaseName, install.Namespace = ReleaseName, Namespace
		install.Wait, install.Timeout = opts.Wait, timeout
		rel, err := install.RunWithContext(ctx, ch, values)
		if err != nil {
			return Result{}, fmt.Errorf("helm: installing Cilium %s: %w", ch.Metadata.Version, err)
		}
		return Result{Action: "install", Revision: rel.Version}, nil
	}
	if deployedAs(last, ch, values) {
		// A control plane restored from a snapshot of this release: an
		// upgrade would change nothing but wait for every Cilium pod,
		// and a lost zone's Nodes (NotReady, still counted) would fail
		// that wait on every attempt. This node's own readiness is waited
		// for later, as the Node's Ready condition.
		log.Info("cilium release already deployed with this chart and these values", "release", ReleaseName, "revision", last.Version)
		return Result{Action: "unchanged", Revision: last.Version}, nil
	}
	up := action.NewUpgrade(cfg)
	up.Namespace = Namespace
	up.Wait, up.Timeout = opts.Wait, timeout
	up.MaxHistory = maxHistory
	// The values are kforge's whole intent: drop whatever an earlier
	// revision set, so the release converges on them.
	up.ResetValues = true
	rel, err := up.RunWithContext(ctx, ReleaseName, ch, values)
	if err != nil {
		return Result{}, fmt.Errorf("helm: upgrading Cilium to %s (release revision %d): %w", ch.Metadata.Version, last.Version, err)
	}
	return Result{Action: "upgrade", Revision: rel.Version}, nil
}
