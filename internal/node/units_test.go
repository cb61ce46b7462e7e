package node

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnitsPassSystemdAnalyze lints the embedded units with systemd's own
// parser. The agent binary is not installed here, so systemd's complaint
// that /usr/local/bin/kforge is not executable is the one line tolerated.
func TestUnitsPassSystemdAnalyze(t *testing.T) {
	us := unitsForSystemdAnalyze(t)
	dir := t.TempDir()
	var paths []string
	for name, data := range us {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	out, _ := exec.Command("systemd-analyze", append([]string{"verify", "--man=no"}, paths...)...).CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" || strings.Contains(line, "/usr/local/bin/kforge is not executable") {
			continue
		}
		t.Errorf("systemd-analyze: %s", line)
	}
}

// The backup timer takes its interval from cluster.json: units installed by
// user data (before cluster.json is read) carry the default, and the
// bootstrap rewrites them with the cluster's interval.
func TestBackupTimerFollowsTheCluster(t *testing.T) {
	ctx := context.Background()
	h := newRecorder(t, "controller")
	o := Options{Role: RoleController, Bucket: "demo-certs", ConfigKey: "bootstrap/cluster.json", Region: "eu-west-1"}
	if err := InstallUnits(ctx, h, o, nil); err != nil {
		t.Fatal(err)
	}
	timer := unitDir + "/kforge-backup.timer"
	if got := h.file(timer); !strings.Contains(got, "OnUnitActiveSec=15min\n") {
		t.Fatalf("default timer:\n%s", got)
	}
	a := &Agent{Host: h, Options: o, Cluster: Cluster{BackupIntervalMinutes: 60}}
	p := a.installUnitsPhase()
	if done, err := p.done(ctx); err != nil || done {
		t.Fatalf("units with another interval count as installed (done=%v, err=%v)", done, err)
	}
	if err := p.run(ctx); err != nil {
		t.Fatal(err)
	}
	got := h.file(timer)
	for _, want := range []string{"OnBootSec=60min\n", "OnUnitActiveSec=60min\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("timer for 60 minutes lacks %q:\n%s", want, got)
		}
	}
	if done, err := p.done(ctx); err != nil || !done {
		t.Errorf("units just written do not count as installed (done=%v, err=%v)", done, err)
	}
}

// Every interval the configuration accepts renders a timer systemd accepts.
func TestBackupTimerIntervalsPassSystemdAnalyze(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("skipping: systemd-analyze is not installed")
	}
	for _, minutes := range []int{5, 15, 1440} {
		us, err := RenderUnits(UnitSettings{BackupMinutes: minutes})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		for _, name := range []string{"kforge-backup.timer", "kforge-backup.service"} {
			if err := os.WriteFile(filepath.Join(dir, name), us[name], 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out, _ := exec.Command("systemd-analyze", "verify", "--man=no", filepath.Join(dir, "kforge-backup.timer")).CombinedOutput()
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if line == "" || strings.Contains(line, "/usr/local/bin/kforge is not executable") {
				continue
			}
			t.Errorf("%d minutes: systemd-analyze: %s", minutes, line)
		}
	}
}

// The upgrade and the certificate renewal both rewrite the static pod
// manifests (kubeadm upgrade apply, the renewal's annotation): their units
// take the same lock, so they never run at once.
func TestManifestWritersTakeOneLock(t *testing.T) {
	us, err := Units()
	if err != nil {
		t.Fatal(err)
	}
	const lock = "ExecStart=/usr/bin/flock /run/kforge-control-plane.lock /usr/local/bin/kforge node "
	for unit, task := range map[string]string{"kforge-upgrade.service": "upgrade-control-plane", "kforge-renew-certs.service": "renew-certs"} {
		if !strings.Contains(string(us[unit]), lock+task+" ") {
			t.Errorf("%s does not run %s under the control plane's lock:\n%s", unit, task, us[unit])
		}
	}
}

// cloud-init 24.4 and later, and Debian's and Ubuntu's, order
// cloud-final.service after multi-user.target; with the bootstrap unit
// wanted by multi-user.target and ordered after cloud-final, systemd
// breaks the cycle by dropping the bootstrap's start at every boot.
// systemd's own analysis of the boot transaction must find no cycle.
func TestBootstrapUnitHasNoCycleWithCloudInit(t *testing.T) {
	us := unitsForSystemdAnalyze(t)
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"kforge-bootstrap.service": us["kforge-bootstrap.service"],
		// cloud-init's own unit, as newer releases order it.
		"cloud-final.service": []byte("[Unit]\nDescription=cloud-init final stage\nAfter=network-online.target multi-user.target\nWants=network-online.target\n\n[Service]\nType=oneshot\nExecStart=/bin/true\nRemainAfterExit=yes\n"),
		"multi-user.target":   []byte("[Unit]\nDescription=Multi-User System\nWants=kforge-bootstrap.service cloud-final.service\n"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("systemd-analyze", "verify", "--man=no", filepath.Join(dir, "multi-user.target"))
	cmd.Env = append(os.Environ(), "SYSTEMD_UNIT_PATH="+dir+":")
	out, _ := cmd.CombinedOutput()
	if strings.Contains(string(out), "cycle") {
		t.Errorf("systemd finds an ordering cycle at boot:\n%s", out)
	}
}

// A oneshot service has no start timeout unless it sets one, and a timer
// does not start its service while a run is under way: one run stuck on a
// connection that never answers would end the timer's work for good (no
// more backups, CSR approvals, token refreshes or renewals). Every service
// a timer starts must set a finite TimeoutStartSec, as systemd parses it.
func TestTimerStartedServicesHaveAStartTimeout(t *testing.T) {
	us := unitsForSystemdAnalyze(t)
	timers := 0
	for name := range us {
		if !strings.HasSuffix(name, ".timer") {
			continue
		}
		timers++
		service := strings.TrimSuffix(name, ".timer") + ".service"
		var timeout string
		for _, line := range strings.Split(string(us[service]), "\n") {
			if v, ok := strings.CutPrefix(line, "TimeoutStartSec="); ok {
				timeout = v
			}
		}
		if timeout == "" {
			t.Errorf("%s starts %s, which sets no TimeoutStartSec", name, service)
			continue
		}
		out, err := exec.Command("systemd-analyze", "timespan", timeout).CombinedOutput()
		if err != nil {
			t.Errorf("%s: systemd-analyze timespan %s: %v\n%s", service, timeout, err, out)
			continue
		}
		if us := timespanMicroseconds(string(out)); us == "0" || us == "18446744073709551615" || us == "" {
			t.Errorf("%s: TimeoutStartSec=%s is no limit (%s μs)", service, timeout, us)
		}
	}
	if timers < 5 {
		t.Errorf("found %d timers in the embedded units", timers)
	}
}

// timespanMicroseconds is the μs line of `systemd-analyze timespan`.
func timespanMicroseconds(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "μs:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// unitsForSystemdAnalyze are the embedded units, for a test that has
// systemd's own analysis judge them; it is skipped without systemd-analyze.
func unitsForSystemdAnalyze(t *testing.T) map[string][]byte {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("skipping: systemd-analyze is not installed")
	}
	us, err := Units()
	if err != nil {
		t.Fatal(err)
	}
	return us
}
