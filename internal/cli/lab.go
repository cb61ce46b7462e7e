package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/lab"
)

// labReadyTimeout bounds the wait for the lab to serve; its first start
// builds the nodes' base root file system (minutes).
const labReadyTimeout = 20 * time.Minute

// labReady is what `kforge lab serve` writes once the emulator answers.
type labReady struct {
	URL   string `json:"url"`
	LabID string `json:"lab_id"`
}

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
		"--region", e.Config.Region, "--ready-file", readyFile)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the lab: %w", err)
	}
	e.app.Notef("Starting the lab (pid %d; log %s): the emulator runs inside it and every instance boots as a node\n", cmd.Process.Pid, logPath)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(labReadyTimeout)
	for {
		if data, err := os.ReadFile(readyFile); err == nil {
			var r labReady
			if err := json.Unmarshal(data, &r); err == nil && r.URL != "" {
				return &EmulatorRecord{PID: cmd.Process.Pid, URL: r.URL, Started: time.Now().UTC(), Log: logPath, Lab: true, LabID: r.LabID}, nil
			}
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

// newLabCmd is the process that holds a lab while the environment lives
// (started by `up <env> --nodes`, stopped by `down <env>`).
func newLabCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{Use: "lab", Short: "Real nodes on this machine for a local environment (started by up --nodes)", Hidden: true}
	var vpc, cluster, region, ready string
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Run the lab: emulator and resolver in its VPC, a node for every instance",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			prefix, err := netip.ParsePrefix(vpc)
			if err != nil {
				return UsageError("--vpc: %v", err)
			}
			if cluster == "" || region == "" || ready == "" {
				return UsageError("--cluster, --region and --ready-file are required")
			}
			ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			lc, err := lab.StartCluster(ctx, lab.ClusterOptions{VPC: prefix, Cluster: cluster, Region: region,
				EmulatorEnv: []string{"MOTO_IAM_LOAD_MANAGED_POLICIES=true"}, Options: lab.Options{Log: app.Stderr}})
			if err != nil {
				return err
			}
			data, _ := json.Marshal(labReady{URL: lc.Emulator.URL, LabID: lc.ID})
			if err := os.WriteFile(ready, data, 0o600); err != nil {
				return errors.Join(fmt.Errorf("writing %s: %w", ready, err), lc.Close(context.Background()))
			}
			fmt.Fprintf(app.Stderr, "lab %s serving: emulator at %s (inside the VPC at %s)\n", lc.ID, lc.Emulator.URL, lc.Emulator.VPCURL)
			<-ctx.Done()
			fmt.Fprintf(app.Stderr, "lab %s stopping\n", lc.ID)
			return lc.Close(context.Background())
		},
	}
	f := serve.Flags()
	f.StringVar(&vpc, "vpc", "", "the environment's VPC CIDR")
	f.StringVar(&cluster, "cluster", "", "cluster name (kforge.io/cluster tag of its instances)")
	f.StringVar(&region, "region", "", "AWS region")
	f.StringVar(&ready, "ready-file", "", "file written with the emulator's loopback URL once it serves")
	sweep := &cobra.Command{
		Use:   "sweep",
		Short: "Remove what a killed lab left: its processes, mounts and namespaces",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := lab.Sweep(c.Context(), ""); err != nil {
				return err
			}
			left, err := lab.Inventory("", nil)
			if err != nil {
				return err
			}
			fmt.Fprintf(app.Stdout, "lab leftovers: %s\n", left)
			if left.Count() > 0 {
				return fmt.Errorf("%d lab leftovers remain", left.Count())
			}
			return nil
		},
	}
	cmd.AddCommand(serve, sweep)
	return cmd
}
