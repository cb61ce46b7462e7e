package node

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"log/slog"
	"strings"
	"text/template"
	"time"
)

//go:embed units/*
var units embed.FS

// DefaultBackupMinutes is the backup interval when cluster.json names none
// (written by a root module older than backup_interval_minutes).
const DefaultBackupMinutes = 15

// UnitSettings are the values rendered into the *.tmpl units.
type UnitSettings struct {
	// BackupMinutes is kforge-backup.timer's interval.
	BackupMinutes int
}

// Units returns the systemd units the agent installs, by file name, with
// the default settings (what user data installs before cluster.json is read).
func Units() (map[string][]byte, error) {
	return RenderUnits(UnitSettings{BackupMinutes: DefaultBackupMinutes})
}

// RenderUnits returns the systemd units by file name; a unit ending in
// .tmpl is rendered with s and installed without the suffix.
func RenderUnits(s UnitSettings) (map[string][]byte, error) {
	entries, err := units.ReadDir("units")
	if err != nil {
		return nil, fmt.Errorf("reading embedded units: %w", err)
	}
	out := make(map[string][]byte, len(entries))
	for _, e := range entries {
		b, err := units.ReadFile("units/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("reading embedded unit %s: %w", e.Name(), err)
		}
		name, isTemplate := strings.CutSuffix(e.Name(), ".tmpl")
		if isTemplate {
			tmpl, err := template.New(e.Name()).Option("missingkey=error").Parse(string(b))
			if err != nil {
				return nil, fmt.Errorf("parsing embedded unit %s: %w", e.Name(), err)
			}
			var buf bytes.Buffer
			if err := tmpl.Execute(&buf, s); err != nil {
				return nil, fmt.Errorf("rendering unit %s: %w", name, err)
			}
			b = buf.Bytes()
		}
		out[name] = b
	}
	return out, nil
}

// The backup intervals this agent renders, kforge's bounds on
// controlPlane.backupInterval.
const (
	minBackupMinutes = 5
	maxBackupMinutes = 1440
)

// unitSettings takes the settings from cluster.json, defaults where absent.
// An interval outside this agent's bounds (a later release's) is brought
// within them, rather than left without backups; warnUnitSettings says so.
func (a *Agent) unitSettings() UnitSettings {
	s := UnitSettings{BackupMinutes: a.Cluster.BackupIntervalMinutes}
	if s.BackupMinutes == 0 {
		s.BackupMinutes = DefaultBackupMinutes
	}
	s.BackupMinutes = min(max(s.BackupMinutes, minBackupMinutes), maxBackupMinutes)
	return s
}

// warnUnitSettings logs, when the units are written, a cluster.json
// setting unitSettings could not render as it is, with the roll that
// brings an agent that can.
func (a *Agent) warnUnitSettings() {
	if m := a.Cluster.BackupIntervalMinutes; m != 0 && m != a.unitSettings().BackupMinutes {
		roll := "kforge roll <env>"
		if a.Options.Role == RoleController {
			roll = "kforge roll <env> --control-plane"
		}
		a.logger().Warn("cluster.json's backup interval is outside what this agent renders: its backups run at the nearest it does; "+roll+" replaces this node with the agent of the kforge release that wrote it",
			"backup_interval_minutes", m, "rendered_minutes", a.unitSettings().BackupMinutes)
	}
}

// Options are the command-line settings the agent was started with; they
// are written to /etc/kforge/node.env so units re-run it identically.
type Options struct {
	Role      string
	Pool      string
	Bucket    string
	ConfigKey string
	Region    string
}

// Agent runs the phases of one node.
type Agent struct {
	Host     Host
	Bucket   Bucket
	DNS      DNS
	Instance Instance
	Cluster  Cluster
	Options  Options
	Log      *slog.Logger
	Now      func() time.Time
	Backoff  Backoff
	// CNI installs Cilium; nil means HelmCNI.
	CNI CNIInstaller
	// Manifests renders the add-ons the control plane applies, as YAML.
	Manifests func(Cluster) ([]byte, error)
	// Nodes finds the instance behind a node name (the CSR approver).
	Nodes NodeFinder
	// Identity proves a worker's identity as it joins; Verifier checks
	// such proofs on the control plane (identity.go).
	Identity IdentityProver
	Verifier IdentityVerifier

	// lab is the lab's node setting (lab.go), read by Bootstrap; nil on
	// every real node.
	lab *LabSettings
}

// phase is one idempotent step: done reports whether its effect is already
// in place (after a reboot, for example), run brings it about.
type phase struct {
	name string
	done func(ctx context.Context) (bool, error)
	run  func(ctx context.Context) error
	// retriedBy names the unit that retries a failed run later; such a
	// phase's failure is logged and does not fail the bootstrap.
	retriedBy string
}

func (a *Agent) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Agent) logger() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}

// runPhases runs phases in order, logging each with its duration so the
// time to a ready node can be read from the journal.
func (a *Agent) runPhases(ctx context.Context, phases []phase) error {
	log := a.logger()
	total := a.now()
	for _, p := range phases {
		start := a.now()
		if p.done != nil {
			done, err := p.done(ctx)
			if err != nil {
				return fmt.Errorf("phase %s: checking state: %w", p.name, err)
			}
			if done {
				log.Info("phase already done", "phase", p.name)
				continue
			}
		}
		log.Info("phase started", "phase", p.name)
		if err := p.run(ctx); err != nil && p.retriedBy != "" {
			log.Warn("phase failed; retried later", "phase", p.name, "retried_by", p.retriedBy,
				"duration", a.now().Sub(start).String(), "error", err.Error())
			continue
		} else if err != nil {
			log.Error("phase failed", "phase", p.name, "duration", a.now().Sub(start).String(), "error", err.Error())
			return fmt.Errorf("phase %s: %w", p.name, err)
		}
		log.Info("phase done", "phase", p.name, "duration", a.now().Sub(start).String())
	}
	log.Info("node ready", "role", a.Options.Role, "duration", a.now().Sub(total).String())
	return nil
}

// InstallUnits writes node.env and the systemd units for these options and
// enables the bootstrap unit, without any cloud call: user data runs it,
// then starts the unit, which owns the bootstrap and its retries.
func InstallUnits(ctx context.Context, h Host, o Options, log *slog.Logger) error {
	a := &Agent{Host: h, Options: o, Log: log}
	p := a.installUnitsPhase()
	done, err := p.done(ctx)
	if err != nil || done {
		return err
	}
	return p.run(ctx)
}

// Bootstrap runs the phases of the node's role.
func (a *Agent) Bootstrap(ctx context.Context) error {
	lab, err := a.labSettings()
	if err != nil {
		return err
	}
	if a.lab = lab; lab != nil {
		a.logger().Info("lab node: lab-only substitutions in effect", "setting", LabSettingsPath,
			"bridgeCNI", lab.BridgeCNI, "cgroupV1", lab.CgroupV1, "offlineAddons", lab.OfflineAddons)
	}
	switch a.Options.Role {
	case RoleController:
		return a.runPhases(ctx, a.controllerPhases())
	case RoleWorker:
		if _, ok := a.Cluster.WorkerPools[a.Options.Pool]; !ok {
			return fmt.Errorf("worker pool %q is not in cluster.json worker_pools", a.Options.Pool)
		}
		if err := a.removeLeftTokenFiles(ctx); err != nil {
			return err
		}
		return a.runPhases(ctx, a.workerPhases())
	default:
		return fmt.Errorf("role %q: want %q or %q", a.Options.Role, RoleController, RoleWorker)
	}
}

// nodeReadyTimeout bounds one attempt's wait for this node's Ready
// condition; a failed wait fails the attempt, which is retried, and counts
// toward ReadyDeadline.
const nodeReadyTimeout = "600s"

// nodeReadyPhase waits until the API server reports this node Ready, so an
// instance that joined but never runs pods (no CNI on it, say) is not taken
// for a finished node. kubeconfig is admin.conf on the control plane and
// the kubelet's own on a worker (the Node authorizer lets a node read its
// Node object).
//
// The ready marker is written here, not after the last phase: what comes
// after (the control plane's add-ons, which may take more than ten
// minutes) is retried by its own timer, and a control plane that serves
// the cluster must never be powered off for a later boot's failures, as
// it would be if it rebooted during that phase.
func (a *Agent) nodeReadyPhase(kubeconfig string) phase {
	return phase{name: "node-ready", run: func(ctx context.Context) error {
		if err := a.runAll(ctx, Cmd("kubectl", "--kubeconfig", kubeconfig, "wait", "--for=condition=Ready",
			"node/"+a.Instance.Hostname, "--timeout="+nodeReadyTimeout)); err != nil {
			return err
		}
		return a.Host.WriteFile(readyMarker, []byte(a.now().UTC().Format(time.RFC3339)+"\n"), 0o644)
	}}
}

func (a *Agent) fileExists(path string) func(context.Context) (bool, error) {
	return func(context.Context) (bool, error) { return Exists(a.Host, path), nil }
}

func (a *Agent) run(ctx context.Context, name string, args ...string) (string, error) {
	return a.Host.Run(ctx, Cmd(name, args...))
}

// syncDisk flushes what other programs wrote before the marker that
// vouches for it: kubeadm and rpm do not sync their files, and on XFS a
// crash within the writeback window could leave them empty behind a
// durable marker (WriteFile syncs) that keeps them from being written
// again.
func (a *Agent) syncDisk(ctx context.Context) error {
	_, err := a.run(ctx, "sync")
	return err
}

func (a *Agent) runAll(ctx context.Context, cmds ...Command) error {
	for _, c := range cmds {
		if _, err := a.Host.Run(ctx, c); err != nil {
			return err
		}
	}
	return nil
}
