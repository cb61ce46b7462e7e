package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
)

// Ready is what Serve writes to its ready file once the emulator answers,
// and what `kforge up --nodes` waits for.
type Ready struct {
	URL   string `json:"url"`
	LabID string `json:"lab_id"`
}

// ReadReady reads a ready file; ok is false until Serve has written a
// complete one.
func ReadReady(path string) (r Ready, ok bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Ready{}, false
	}
	if err := json.Unmarshal(data, &r); err != nil || r.URL == "" {
		return Ready{}, false
	}
	return r, true
}

// writeReady writes the ready file, readable by its owner only.
func writeReady(path string, r Ready) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// ServeOptions configure Serve.
type ServeOptions struct {
	VPC       netip.Prefix // the environment's VPC CIDR
	Cluster   string       // cluster name (kforge.io/cluster tag of its instances)
	Region    string
	ReadyFile string    // written with the emulator's loopback URL once it serves
	Log       io.Writer // progress lines
	// Kubernetes is the release the nodes install from the lab's package
	// source (built once, cached); empty leaves the nodes without one.
	Kubernetes string
}

// Serve holds a lab for a local environment while it lives (the process
// `kforge up <env> --nodes` starts and `kforge down <env>` stops): the
// emulator and resolver in the VPC, a node for every instance. It writes
// the ready file once the emulator serves and stops the lab when ctx ends.
func Serve(ctx context.Context, o ServeOptions) error {
	co := ClusterOptions{VPC: o.VPC, Cluster: o.Cluster, Region: o.Region,
		// Modules may attach AWS-managed policies; moto only knows them when asked.
		EmulatorEnv: []string{"MOTO_IAM_LOAD_MANAGED_POLICIES=true"}, Options: Options{Log: o.Log}}
	if o.Kubernetes != "" {
		co.Packages = &PackagesOptions{Version: o.Kubernetes}
	}
	lc, err := StartCluster(ctx, co)
	if err != nil {
		return err
	}
	if err := writeReady(o.ReadyFile, Ready{URL: lc.Emulator.URL, LabID: lc.ID}); err != nil {
		return errors.Join(err, lc.Close(context.Background()))
	}
	fmt.Fprintf(o.Log, "lab %s serving: emulator at %s (inside the VPC at %s)\n", lc.ID, lc.Emulator.URL, lc.Emulator.VPCURL)
	<-ctx.Done()
	fmt.Fprintf(o.Log, "lab %s stopping\n", lc.ID)
	return lc.Close(context.Background())
}

// SweepAll removes what killed labs left on this machine (`kforge lab
// sweep`) and takes the inventory after; anything left is an error.
func SweepAll(ctx context.Context) (Leftovers, error) {
	if err := Sweep(ctx, ""); err != nil {
		return Leftovers{}, err
	}
	left, err := Inventory("", nil)
	if err != nil {
		return Leftovers{}, err
	}
	if left.Count() > 0 {
		return left, fmt.Errorf("%d lab leftovers remain", left.Count())
	}
	return left, nil
}
