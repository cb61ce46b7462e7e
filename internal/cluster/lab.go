package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/kforge/kforge/internal/lab"
)

// labReadyTimeout bounds the wait for the lab to serve; its first start
// builds the nodes' base root file system and package source (minutes).
const labReadyTimeout = 60 * time.Minute

// startLab starts `kforge lab serve` detached for the environment and waits
// until its emulator answers: every instance the environment's ASGs launch
// then boots as a lab node (docs/LAB.md).
func (e *Env) startLab(ctx context.Context) (*EmulatorRecord, error) {
	vpc, err := netip.ParsePrefix(e.Config.Network.VPCCIDR)
	if err != nil {
		return nil, fmt.Errorf("the lab needs the environment's network.vpcCIDR: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this executable to start the lab: %w", err)
	}
	readyFile := filepath.Join(e.Dir, "lab-ready.json")
	_ = os.Remove(readyFile)
	logPath := filepath.Join(e.Dir, "lab.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the lab log: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(self, "lab", "serve", "--vpc", vpc.String(), "--cluster", e.Config.Name,
		"--region", e.Config.Region, "--ready-file", readyFile, "--kubernetes-version", e.Config.Kubernetes.Version)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the lab: %w", err)
	}
	e.opts.UI.Notef("Starting the lab (pid %d; log %s): the emulator runs inside it and every instance boots as a node\n", cmd.Process.Pid, logPath)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(labReadyTimeout)
	for {
		if r, ok := lab.ReadReady(readyFile); ok {
			return &EmulatorRecord{PID: cmd.Process.Pid, URL: r.URL, Started: time.Now().UTC(), Log: logPath, Lab: true, LabID: r.LabID}, nil
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("the lab stopped before serving (%v); see %s", err, logPath)
		case <-deadline:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			return nil, fmt.Errorf("the lab did not serve within %s; see %s", labReadyTimeout, logPath)
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
