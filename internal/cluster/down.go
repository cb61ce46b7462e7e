package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	tfjson "github.com/hashicorp/terraform-json"

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
	Env              string `json:"environment"`
	AlreadyDestroyed bool   `json:"already_destroyed"`
	Destroyed        int    `json:"destroyed"`
	StatePurged      bool   `json:"state_purged"`
	StateBucket      string `json:"state_bucket,omitempty"`
	// StateBucketDeleted: with --purge-state, nothing else was in the
	// bucket; otherwise StateBucketKeptFor names other objects in it.
	StateBucketDeleted bool             `json:"state_bucket_deleted"`
	StateBucketKeptFor []string         `json:"state_bucket_kept_for,omitempty"`
	Swept              []sweep.Resource `json:"swept,omitempty"`
	// Kept are the certs bucket, log bucket, key, alias and public zone
	// left in place (certsBucketForceDestroy: false); the next up adopts
	// them.
	Kept []sweep.Resource `json:"kept,omitempty"`
	// FormerNameServers are the deleted public zone's, which the domain's
	// delegation may still name (see delegationNote).
	FormerNameServers []string `json:"former_name_servers,omitempty"`
	EmulatorStopped   bool     `json:"emulator_stopped"`
	Elapsed           string   `json:"elapsed,omitempty"`
	Message           string   `json:"message"`
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
	var st *tfjson.State
	count := 0
	if exists {
		if r, err = e.InitRunner(ctx); err != nil {
			return nil, err
		}
		if st, err = r.State(ctx); err != nil {
			return nil, err
		}
		count = ManagedResources(st)
	}
	keep := e.keepOnDown()
	if count == 0 {
		result.AlreadyDestroyed = true
		result.Message = fmt.Sprintf("Nothing to destroy: environment %s has no resources in its state (already destroyed).", e.Name)
	} else {
		// A bucket applied without force_destroy fails terraform destroy
		// once it holds objects, whatever the setting says now (the destroy
		// reads it from the state): when it is no longer to be kept, the
		// sweep after the destroy deletes it instead, every version
		// included, and the key with it.
		handOver := !keep && bucketsWithoutForceDestroy(st)
		var keepAddrs []string
		kept := 0
		if keep || handOver {
			keepAddrs, kept = keptStateAddresses(st, keep)
		}
		zone := zoneInState(st)
		zoneKept := zone != nil && slices.Contains(keepAddrs, publicZoneAddress)
		destroy := count - kept
		e.opts.UI.Infof("Environment %s: %d resources of cluster %s will be destroyed.\n", e.Name, destroy, e.Config.Name)
		switch {
		case kept > 0 && keep:
			what := "the certs bucket with its backups and settings, the log bucket, and the cluster's KMS key and alias, so the backups stay readable"
			if zoneKept {
				what += "; and the public zone of " + e.Config.Domain + " with its name servers and the records kforge did not make, so the domain's delegation stays valid ($0.50 a month)"
			}
			e.opts.UI.Infof("%d are kept (certsBucketForceDestroy: false): %s; the next `kforge up %s` adopts them.\n", kept, what, e.Name)
		case kept > 0:
			e.opts.UI.Infof("%d more (the certs and log buckets, applied while certsBucketForceDestroy was false, and the KMS key) are deleted after the destroy, with every object version in the buckets.\n", kept)
		}
		if zoneKept {
			zone = nil // neither its records nor its delegation go
		}
		var aps []sweep.Resource
		var groups *autoscaling.Client
		var held []heldGroup
		if destroy > 0 {
			if aps, err = e.accessPoints(ctx, st); err != nil {
				return nil, err
			}
			if groups, err = e.autoScaling(ctx); err != nil {
				return nil, err
			}
			if held, err = e.heldGroups(ctx, groups, st); err != nil {
				return nil, err
			}
			if len(held) > 0 {
				e.opts.UI.Infof("%s", describeHeld(held))
			}
			if zone != nil {
				if err := e.previewZone(ctx, zone); err != nil {
					return nil, err
				}
			}
		}
		if err := e.opts.UI.Confirm(ctx, fmt.Sprintf("destroy cluster %s", e.Config.Name), e.Config.Name); err != nil {
			return nil, err
		}
		// Out of the state first: destroy then leaves them, and a destroy
		// that fails half way has them kept already (up adopts them).
		if err := r.StateRm(ctx, keepAddrs...); err != nil {
			return nil, fmt.Errorf("keeping the certs bucket, key and zone out of the destroy: %w", err)
		}
		if destroy > 0 {
			if result.Swept, err = e.deleteAccessPoints(ctx, aps); err != nil {
				return nil, err
			}
			if err := releaseHeld(ctx, groups, held); err != nil {
				return nil, err
			}
			late, err := e.destroyRecoveringLostAnswers(ctx, r, destroy, o.Progress)
			if result.Swept = append(result.Swept, late...); err != nil {
				return nil, err
			}
		}
		result.Destroyed = destroy
		result.Message = fmt.Sprintf("Destroyed %d resources of cluster %s.", destroy, e.Config.Name)
		if note := delegationNote(e.Name, zone); note != "" && destroy > 0 && e.Endpoint == "" {
			result.FormerNameServers = zone.NameServers
			result.Message += " " + note
		}
	}
	// What the state never held (ASG instances, a killed apply's
	// orphans) is found by the cluster tag.
	swept, kept, zones, err := e.sweepLeftovers(ctx, exists, count > 0, keep)
	if err != nil {
		return nil, err
	}
	result.Swept, result.Kept = append(result.Swept, swept...), kept
	// A zone an earlier down kept, deleted now by the sweep: its
	// delegation dangles as a destroyed one's does.
	for _, z := range zones {
		if note := delegationNote(e.Name, z); note != "" && e.Endpoint == "" {
			result.FormerNameServers = append(result.FormerNameServers, z.NameServers...)
			result.Message += " " + note
		}
	}
	if o.PurgeState && exists {
		bucket, purge, err := e.purgeState(ctx)
		if err != nil {
			return nil, err
		}
		result.StateBucket, result.StatePurged = bucket, true
		result.StateBucketDeleted, result.StateBucketKeptFor = purge.BucketDeleted, purge.Others
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
	Env     string
	Orphans []sweep.Resource
	// Kept were kept by an earlier down; they are not orphans (up adopts
	// them) and are never deleted here.
	Kept    []sweep.Resource
	Deleted *sweep.Result
}

// MarshalJSON is the result `kforge orphans --output json` prints.
func (r *OrphansResult) MarshalJSON() ([]byte, error) {
	out := struct {
		Env     string           `json:"environment"`
		Orphans []sweep.Resource `json:"orphans"`
		Kept    []sweep.Resource `json:"kept,omitempty"`
		Deleted int              `json:"deleted"`
	}{Env: r.Env, Orphans: r.Orphans, Kept: r.Kept}
	if r.Deleted != nil {
		out.Deleted = len(r.Deleted.Deleted)
	}
	return json.Marshal(out)
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
	res := &OrphansResult{Env: e.Name}
	locked, err := e.withStateLock(ctx, "kforge orphans", func() error {
		if res.Orphans, res.Kept, _, err = e.findOrphans(ctx, r); err != nil {
			return err
		}
		if !o.Delete || len(res.Orphans) == 0 {
			return nil
		}
		if o.Show != nil {
			o.Show(res.Orphans)
		}
		if err := e.opts.UI.Confirm(ctx, fmt.Sprintf("delete these %d orphaned resources of %s", len(res.Orphans), e.Config.Name), "yes"); err != nil {
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
