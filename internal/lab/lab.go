package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// Options configures New.
type Options struct {
	// CIDR is the VPC's address range; the instances' private IPs lie in it.
	CIDR netip.Prefix
	// Log receives progress lines (the base build's output included).
	Log io.Writer
}

// Lab is one running lab: its VPC and its instances.
type Lab struct {
	ID     string
	Base   string
	RunDir string
	Net    *Network
	Log    io.Writer

	mu        sync.Mutex
	instances map[int]*Instance
	closers   []func(context.Context) error
}

// New checks the machine, sweeps labs whose process is gone, builds (or
// reuses) the base root file system and creates the lab's VPC.
func New(ctx context.Context, opts Options) (*Lab, error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if err := CheckHost(); err != nil {
		return nil, err
	}
	if err := SweepOrphans(ctx, opts.Log); err != nil {
		return nil, err
	}
	base, err := EnsureBase(ctx, opts.Log)
	if err != nil {
		return nil, err
	}
	cache, err := CacheDir()
	if err != nil {
		return nil, err
	}
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("choosing a lab id: %w", err)
	}
	l := &Lab{ID: hex.EncodeToString(b[:]), Base: base, Log: opts.Log, instances: map[int]*Instance{}}
	l.RunDir = filepath.Join(cache, "run", l.ID)
	if err := createRunDir(l.RunDir); err != nil {
		return nil, err
	}
	l.Net, err = NewNetwork(ctx, l.ID, opts.CIDR)
	if err != nil {
		os.RemoveAll(l.RunDir)
		return nil, err
	}
	return l, nil
}

// OnClose registers a function Close runs before it stops the instances
// (services started for the lab); the last registered runs first.
func (l *Lab) OnClose(f func(context.Context) error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closers = append(l.closers, f)
}

// Instances returns the booted instances in index order.
func (l *Lab) Instances() []*Instance {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*Instance, 0, len(l.instances))
	for _, i := range l.instances {
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Spec.Index < out[b].Spec.Index })
	return out
}

// Close stops every instance and service and removes the VPC and the run
// directory, then sweeps whatever a failed step left. The lab leaves no
// namespace, mount, process or link behind (Inventory counts them).
func (l *Lab) Close(ctx context.Context) error {
	var errs []error
	l.mu.Lock()
	closers := l.closers
	l.closers = nil
	l.mu.Unlock()
	for i := len(closers) - 1; i >= 0; i-- {
		if err := closers[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	// Instances shut down in parallel: each may take seconds.
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, inst := range l.Instances() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := inst.Stop(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := l.Net.Close(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := Sweep(ctx, l.ID); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(l.RunDir); err != nil {
		errs = append(errs, fmt.Errorf("removing %s: %w", l.RunDir, err))
	}
	return errors.Join(errs...)
}
