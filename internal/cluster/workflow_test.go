package cluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/localaws/localawstest"
	"github.com/kforge/kforge/internal/tfrun"
)

// recordingUI answers every confirmation with yes and keeps what was said.
type recordingUI struct {
	notes, info, asked []string
}

func (u *recordingUI) Notef(f string, a ...any) { u.notes = append(u.notes, fmt.Sprintf(f, a...)) }
func (u *recordingUI) Infof(f string, a ...any) { u.info = append(u.info, fmt.Sprintf(f, a...)) }
func (u *recordingUI) Confirm(_ context.Context, action, want string) error {
	u.asked = append(u.asked, action)
	return nil
}

func repoEnvs(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "envs")
}

// The workflows run without cobra: against an emulator holding nothing of
// the cluster, down has nothing to destroy and asks nothing, and orphans
// refuses without a state bucket (every resource would count as one).
func TestWorkflowsWithoutState(t *testing.T) {
	em := localawstest.StartForTest(t)
	ctx := context.Background()
	ui := &recordingUI{}
	e, err := Open(ctx, "local", NeedEmulator, Options{EnvsDir: repoEnvs(t), WorkDir: t.TempDir(), Endpoint: em.URL(), UI: ui})
	if err != nil {
		t.Fatal(err)
	}
	if e.Local || e.Endpoint != em.URL() {
		t.Fatalf("an explicit endpoint must win over emulator: true: local=%v endpoint=%q", e.Local, e.Endpoint)
	}
	down, err := RunDown(ctx, e, DownOptions{PurgeState: true})
	if err != nil {
		t.Fatalf("RunDown: %v", err)
	}
	if !down.AlreadyDestroyed || down.Destroyed != 0 || down.StatePurged || down.EmulatorStopped || len(ui.asked) != 0 {
		t.Errorf("down of a cluster that never existed: %+v, asked %v", down, ui.asked)
	}
	if !strings.Contains(down.Message, "already destroyed") {
		t.Errorf("down message %q", down.Message)
	}
	if _, err := RunOrphans(ctx, e, OrphansOptions{}); err == nil || !strings.Contains(err.Error(), "no state bucket yet") {
		t.Errorf("RunOrphans without a state bucket: %v", err)
	}
	if _, err := e.AppliedOutputs(ctx); err == nil {
		t.Error("AppliedOutputs of a cluster never applied: want an error")
	}
}

// up --nodes needs a local environment whose emulator runs in a lab; both
// refusals come before any cloud call.
func TestRunUpRefusesNodesWithoutALab(t *testing.T) {
	ctx := context.Background()
	o := Options{EnvsDir: repoEnvs(t), WorkDir: t.TempDir(), Endpoint: "http://127.0.0.1:1", Nodes: true, UI: &recordingUI{}}
	e, err := Open(ctx, "local", NeedEmulator, o)
	if err != nil {
		t.Fatal(err)
	}
	var ee *ExitError
	if _, err := RunUp(ctx, e, UpOptions{}); !errors.As(err, &ee) || ee.Code != ExitUsage || !strings.Contains(err.Error(), "--nodes is for local environments") {
		t.Errorf("--nodes with an endpoint: %v, want exit 2", err)
	}
	e.Local, e.Emulator = true, &EmulatorRecord{PID: 4242}
	if _, err := RunUp(ctx, e, UpOptions{}); !errors.As(err, &ee) || ee.Code != ExitFailure || !strings.Contains(err.Error(), "already runs without a lab (pid 4242)") {
		t.Errorf("--nodes with a plain emulator: %v, want exit 1 naming its pid", err)
	}
}

// A command's own input is checked against the valid configuration before
// anything else: no warning printed, no work directory, no emulator.
func TestOpenCheckedChecksFirst(t *testing.T) {
	ui := &recordingUI{}
	work := filepath.Join(t.TempDir(), "work")
	var seen string
	_, err := OpenChecked(context.Background(), "local", StartEmulator, Options{EnvsDir: repoEnvs(t), WorkDir: work, UI: ui},
		func(cfg *config.Cluster) error {
			seen = cfg.Name
			return UsageError("--pool %q is not a pool of %s", "gpu", cfg.Name)
		})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != ExitUsage || seen == "" || !strings.Contains(err.Error(), seen) {
		t.Fatalf("OpenChecked: %v (config %q), want the check's exit 2", err, seen)
	}
	if len(ui.notes) != 0 {
		t.Errorf("notes before the check: %q", ui.notes)
	}
	if _, err := os.Stat(work); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("work directory after a refused check: %v", err)
	}
}

// A command that would start the local emulator and then find no
// Terraform says so first, and starts nothing: no emulator.json, no
// moto_server left running for a command that could not run.
func TestStartEmulatorLooksForTerraformFirst(t *testing.T) {
	moto, err := exec.LookPath("moto_server")
	if err != nil {
		t.Skip("moto_server is not on PATH")
	}
	bin := t.TempDir()
	if err := os.Symlink(moto, filepath.Join(bin, "moto_server")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	work := t.TempDir()
	e, err := Open(context.Background(), "local", StartEmulator, Options{EnvsDir: repoEnvs(t), WorkDir: work, UI: &recordingUI{}})
	if e != nil {
		_ = e.StopEmulator()
	}
	if !errors.Is(err, tfrun.ErrTerraformMissing) {
		t.Fatalf("Open(local, StartEmulator) without terraform on PATH: %v, want %v", err, tfrun.ErrTerraformMissing)
	}
	if _, err := os.Stat(filepath.Join(work, "local", "emulator.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an emulator was recorded though nothing could run: %v", err)
	}
}
