package cluster

import (
	"context"
	"fmt"

	"github.com/kforge/kforge/internal/sweep"
	"github.com/kforge/kforge/internal/tfrun"
)

// DownOptions tune RunDown.
type DownOptions struct {
	// PurgeState also deletes the state bucket with every object version.
	PurgeState bool
	// Progress receives the destroy's progress.
	Progress func(tfrun.Progress)
}

// DownResult is what RunDown did.
type DownResult struct {
	Env              string           `json:"environment"`
	AlreadyDestroyed bool             `json:"already_destroyed"`
	Destroyed        int              `json:"destroyed"`
	StatePurged      bool             `json:"state_purged"`
	StateBucket      string           `json:"state_bucket,omitempty"`
	Swept            []sweep.Resource `json:"swept,omitempty"`
	EmulatorStopped  bool             `json:"emulator_stopped"`
	Elapsed          string           `json:"elapsed,omitempty"`
	Message          string           `json:"message"`
}

// RunDown destroys everything the environment's state holds (after the
// UI confirms with the cluster's name), sweeps what the state never held,
// optionally deletes the state bucket, and stops a managed emulator. A
// cluster already gone is not an error. Open e with OptionalEmulator.
func RunDown(ctx context.Context, e *Env, o DownOptions) (*DownResult, error) {
	result := &DownResult{Env: e.Name}
	if e.EmulatorGone {
		result.AlreadyDestroyed = true
		result.Message = fmt.Sprintf("Nothing to destroy: the local emulator of %s is not running, so its cluster and state are already gone.", e.Name)
		return result, nil
	}
	exists, err := e.StateBucketExists(ctx)
	if err != nil {
		return nil, err
	}
	var r *tfrun.Runner
	count := 0
	if exists {
		if r, err = e.InitRunner(ctx); err != nil {
			return nil, err
		}
		st, err := r.State(ctx)
		if err != nil {
			return nil, err
		}
		count = ManagedResources(st)
	}
	if count == 0 {
		result.AlreadyDestroyed = true
		result.Message = fmt.Sprintf("Nothing to destroy: environment %s has no resources in its state (already destroyed).", e.Name)
	} else {
		e.opts.UI.Infof("Environment %s: %d resources of cluster %s will be destroyed.\n", e.Name, count, e.Config.Name)
		if err := e.opts.UI.Confirm(fmt.Sprintf("destroy cluster %s", e.Config.Name), e.Config.Name); err != nil {
			return nil, err
		}
		if err := r.Destroy(ctx, count, o.Progress); err != nil {
			return nil, err
		}
		result.Destroyed = count
		result.Message = fmt.Sprintf("Destroyed %d resources of cluster %s.", count, e.Config.Name)
	}
	// What the state never held (ASG instances, a killed apply's
	// orphans) is found by the cluster tag.
	if result.Swept, err = e.sweepLeftovers(ctx, exists, count > 0); err != nil {
		return nil, err
	}
	if o.PurgeState && exists {
		if result.StateBucket, result.StatePurged, err = e.purgeStateBucket(ctx); err != nil {
			return nil, err
		}
	}
	if e.Local {
		if err := e.StopEmulator(); err != nil {
			return nil, err
		}
		result.EmulatorStopped = true
	}
	return result, nil
}

// OrphansOptions tune RunOrphans.
type OrphansOptions struct {
	// Delete removes the orphans (after Show and the UI's confirmation).
	Delete bool
	// Show is shown the orphans before they are deleted.
	Show func([]sweep.Resource)
}

// OrphansResult lists the orphans found and those deleted.
type OrphansResult struct {
	Orphans []sweep.Resource
	Deleted *sweep.Result
}

// RunOrphans lists the cluster's resources its state does not know, and
// deletes them with o.Delete, holding the state lock throughout.
func RunOrphans(ctx context.Context, e *Env, o OrphansOptions) (*OrphansResult, error) {
	exists, err := e.StateBucketExists(ctx)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, fmt.Errorf("environment %s has no state bucket yet: without a state every resource of the cluster would count as an orphan; run `kforge up %s` (it removes them first) or `kforge down %s`", e.Name, e.Name, e.Name)
	}
	r, err := e.InitRunner(ctx)
	if err != nil {
		return nil, err
	}
	res := &OrphansResult{}
	locked, err := e.withStateLock(ctx, "kforge orphans", func() error {
		if res.Orphans, err = e.findOrphans(ctx, r); err != nil {
			return err
		}
		if !o.Delete || len(res.Orphans) == 0 {
			return nil
		}
		if o.Show != nil {
			o.Show(res.Orphans)
		}
		if err := e.opts.UI.Confirm(fmt.Sprintf("delete these %d orphaned resources of %s", len(res.Orphans), e.Config.Name), "yes"); err != nil {
			return err
		}
		res.Deleted, err = e.deleteResources(ctx, res.Orphans, e.sweepProgress())
		return err
	})
	if err != nil {
		return nil, err
	}
	if !locked {
		return nil, fmt.Errorf("the state of %s is locked by another run: orphans can only be told apart while no run is creating resources; wait for it (or release a stale lock with `kforge unlock %s <lock-id>`; `kforge plan %s` prints the id)", e.Name, e.Name, e.Name)
	}
	return res, nil
}
