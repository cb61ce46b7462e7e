package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/sweep"
	"github.com/kforge/kforge/internal/tfrun"
)

// Orphans are cluster resources the Terraform state does not know. Terraform
// saves remote state at most every 20 s and records a resource only when its
// create returns, so a killed apply leaves them behind: named ones make the
// next apply fail with "already exists", unnamed ones would be created twice.

// removeOrphans is up's recovery step, after init and before the plan: it
// deletes what an interrupted apply created but never recorded, so the
// plan creates it again instead of failing with "already exists"; what an
// earlier down kept (certsBucketForceDestroy: false) it adopts instead. It
// runs under the state lock; when another run holds the lock it does
// nothing and the plan reports the lock. It returns how many orphans it
// deleted or adopted.
func (e *Env) removeOrphans(ctx context.Context, r *tfrun.Runner) (int, error) {
	handled := 0
	_, err := e.withStateLock(ctx, "kforge up: orphan check", func() error {
		orphans, kept, names, err := e.findOrphans(ctx, r)
		if err != nil {
			return err
		}
		// What an earlier down kept is taken back, not deleted or created anew.
		adopted, err := e.adoptKeptFound(ctx, r, names, kept)
		if err != nil {
			return err
		}
		handled += adopted
		if len(orphans) == 0 {
			return nil
		}
		adopt, orphans := e.adoptable(orphans)
		if len(adopt) > 0 {
			if err := e.writeImports(ctx, r, adopt, "an interrupted apply created but did not record"); err != nil {
				return err
			}
			handled += len(adopt)
			if len(orphans) == 0 {
				return nil
			}
		}
		if err := e.refuseEmptyStateOverARunningCluster(ctx, r, orphans); err != nil {
			return err
		}
		e.opts.UI.Notef("Found %d resources of cluster %s that its Terraform state does not know. An apply created them without recording them (it was killed, or the answer to a create was lost); deleting them so this run creates them again:\n", len(orphans), e.Config.Name)
		e.noteResources(orphans)
		if err := e.opts.UI.Confirm(ctx, fmt.Sprintf("delete these %d orphaned resources", len(orphans)), "yes"); err != nil {
			return err
		}
		res, err := e.deleteResources(ctx, orphans, e.sweepProgress())
		if err != nil {
			return err
		}
		handled += len(res.Deleted)
		e.opts.UI.Notef("Deleted %d orphaned resources.\n", len(res.Deleted))
		return nil
	})
	return handled, err
}

// refuseEmptyStateOverARunningCluster stops up before it deletes, as
// orphans, the instances of a cluster whose state holds nothing: a killed
// apply's leftovers rarely run instances, while a state read from
// somewhere new (state.bucket, key or region changed, or the state object
// deleted) makes every resource of a running cluster look orphaned.
// `kforge orphans --delete` deletes them when they really are leftovers.
func (e *Env) refuseEmptyStateOverARunningCluster(ctx context.Context, r *tfrun.Runner, orphans []sweep.Resource) error {
	instances := 0
	for _, o := range orphans {
		if o.Kind == sweep.KindInstance {
			instances++
		}
	}
	if instances == 0 {
		return nil
	}
	st, err := r.State(ctx)
	if err != nil {
		return fmt.Errorf("reading the state before deleting orphans: %w", err)
	}
	if ManagedResources(st) > 0 {
		return nil
	}
	bucket, err := e.StateBucket(ctx)
	if err != nil {
		return err
	}
	return Failure("the state of %s (s3://%s/%s in %s) holds no resource, yet cluster %s runs %d instances among %d resources it does not know: "+
		"that is a running cluster whose state is elsewhere (state.bucket, state.key or state.region changed, or the state object was deleted), not a killed apply's leftovers. Nothing was deleted. "+
		"Point state.* back at the cluster's state, or move the state there (`terraform init -migrate-state` in %s); if these really are leftovers, `kforge orphans %s --delete` removes them",
		e.Name, bucket, e.StateKey(), e.StateRegion(), e.Config.Name, instances, len(orphans), r.Dir(), e.Name)
}

// adoptFile is the staged root module's file of import blocks for orphans
// kforge adopts; staging removes it again on the next run.
const adoptFile = "kforge_adopt.tf"

// adoptable splits off the orphaned DNS records of a zone in the state: a
// record has a known identity (zone_name_type) and address, so the plan
// imports it rather than deleting it and creating it again (which moto
// refuses for a record it has seen created before).
func (e *Env) adoptable(orphans []sweep.Resource) (adopt map[string]sweep.Resource, rest []sweep.Resource) {
	d := strings.ToLower(strings.TrimSuffix(e.Config.Domain, "."))
	addr := map[string]string{
		d:          fmt.Sprintf("module.dns.aws_route53_record.ingress[%q]", d),
		"*." + d:   fmt.Sprintf("module.dns.aws_route53_record.ingress[%q]", "*."+d),
		"api." + d: "module.dns.aws_route53_record.api",
	}
	zoneOrphaned := map[string]bool{}
	for _, o := range orphans {
		if o.Kind == sweep.KindHostedZone {
			zoneOrphaned[o.ID] = true
		}
	}
	adopt = map[string]sweep.Resource{}
	for _, o := range orphans {
		zone, _, _ := strings.Cut(o.ID, "_")
		if a, ok := addr[o.Name]; ok && d != "" && o.Kind == sweep.KindRecord && strings.HasSuffix(o.ID, "_A") && !zoneOrphaned[zone] {
			adopt[a] = o
			continue
		}
		rest = append(rest, o)
	}
	return adopt, rest
}

// writeImports adds import blocks for the adopted resources to the staged
// root module's adopt file (created on the run's first adoption) and
// re-initialises it. what says where they come from, for the message.
func (e *Env) writeImports(ctx context.Context, r *tfrun.Runner, adopt map[string]sweep.Resource, what string) error {
	var b strings.Builder
	path := filepath.Join(r.Dir(), adoptFile)
	if before, err := os.ReadFile(path); err == nil {
		b.Write(before)
	} else {
		b.WriteString("# Written by kforge: resources that exist but are not in the state (docs/OPERATIONS.md).\n")
	}
	var addrs []string
	for a := range adopt {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	e.opts.UI.Notef("Adopting %d resources %s (the plan imports them):\n", len(addrs), what)
	for _, a := range addrs {
		fmt.Fprintf(&b, "\nimport {\n  to = %s\n  id = %q\n}\n", a, adopt[a].ID)
		e.opts.UI.Notef("  %s <- %s\n", a, adopt[a])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return r.Init(ctx, false)
}

// sweepLeftovers is down's last step: it deletes everything still tagged
// for the cluster after terraform destroy (what the state never held:
// instances of the ASGs, their volumes and network interfaces, EFS access
// points, orphans of a killed apply). confirmed says the user already
// agreed to destroy the cluster. With keep, the certs bucket, log bucket
// and key that down keeps are left alone and returned as kept. zones are
// the public zones it deleted (one an earlier down kept), whose
// delegation the operator must remove.
func (e *Env) sweepLeftovers(ctx context.Context, stateBucket, confirmed, keep bool) (swept, kept []sweep.Resource, zones []*publicZone, err error) {
	run := func() error {
		left, err := e.listCluster(ctx, false)
		if err != nil {
			return err
		}
		if keep {
			// After the destroy the state holds none of them.
			if _, kept, err = e.kept(ctx, func() (map[string]bool, error) { return nil, nil }); err != nil {
				return err
			}
			left = withoutKept(left, kept)
		}
		if len(left) == 0 {
			return nil
		}
		e.opts.UI.Infof("%d resources of cluster %s are still tagged for it after terraform destroy (never in the state); deleting them:\n", len(left), e.Config.Name)
		e.noteResources(left)
		if !confirmed {
			if err := e.opts.UI.Confirm(ctx, fmt.Sprintf("delete the %d leftover resources of cluster %s", len(left), e.Config.Name), e.Config.Name); err != nil {
				return err
			}
		}
		public := e.publicZones(ctx, left)
		res, err := e.deleteResources(ctx, left, e.sweepProgress())
		if res != nil {
			swept = res.Deleted
			for _, d := range res.Deleted {
				if z := public[d.ID]; d.Kind == sweep.KindHostedZone && z != nil {
					zones = append(zones, z)
				}
			}
		}
		return err
	}
	if !stateBucket {
		return swept, kept, zones, run() // no state, so no run can hold its lock
	}
	locked, err := e.withStateLock(ctx, "kforge down: leftover sweep", run)
	if err == nil && !locked {
		err = fmt.Errorf("the state of %s is locked by another run: leftovers were not swept; run `kforge down %s` again when it is done", e.Name, e.Name)
	}
	return swept, kept, zones, err
}

// publicZones reads the name servers of the public hosted zones among rs,
// by ID, before the sweep deletes them; a zone whose read fails is left
// out, with a note.
func (e *Env) publicZones(ctx context.Context, rs []sweep.Resource) map[string]*publicZone {
	zones := map[string]*publicZone{}
	var r53 *route53.Client
	for _, r := range rs {
		if r.Kind != sweep.KindHostedZone {
			continue
		}
		if r53 == nil {
			cfg, err := awsx.Config(ctx, e.Config.Region, e.Endpoint)
			if err != nil {
				e.opts.UI.Notef("note: the name servers of the zones the sweep deletes were not read: %v\n", err)
				return zones
			}
			r53 = awsx.Route53Client(cfg)
		}
		out, err := r53.GetHostedZone(ctx, &route53.GetHostedZoneInput{Id: aws.String(r.ID)})
		if err != nil {
			e.opts.UI.Notef("note: the name servers of zone %s were not read: %v\n", r.Name, err)
			continue
		}
		if out.HostedZone.Config != nil && out.HostedZone.Config.PrivateZone || out.DelegationSet == nil {
			continue
		}
		zones[r.ID] = &publicZone{ID: r.ID, Name: r.Name, NameServers: out.DelegationSet.NameServers}
	}
	return zones
}

// listCluster lists every resource tagged for the cluster, except the
// state bucket. With creating (before an apply), launch templates and
// groups of other owners under the names the cluster's would take fail it
// with exit code 2.
func (e *Env) listCluster(ctx context.Context, creating bool) ([]sweep.Resource, error) {
	cfg, err := awsx.Config(ctx, e.Config.Region, e.Endpoint)
	if err != nil {
		return nil, err
	}
	var keep []string
	if b, err := e.StateBucket(ctx); err == nil {
		keep = append(keep, b)
	}
	// The records the dns module writes; others in the zone are the user's.
	var records []string
	if d := e.Config.Domain; d != "" {
		records = []string{d, "*." + d, "api." + d}
	}
	target := sweep.Target{Cluster: e.Config.Name, Environment: e.Config.Environment, Endpoint: e.Endpoint, KeepBuckets: keep, RecordNames: records}
	if creating {
		target.GroupNames = append(target.GroupNames, e.Config.Name+"-controller")
		for pool := range e.Config.WorkerPools {
			target.GroupNames = append(target.GroupNames, e.Config.Name+"-"+pool)
		}
	}
	rs, err := sweep.List(ctx, cfg, target)
	var conflict *sweep.EnvironmentConflict
	var taken *sweep.NamesTaken
	if errors.As(err, &conflict) || errors.As(err, &taken) {
		return nil, UsageError("%v", err)
	}
	return rs, err
}

// findOrphans lists the cluster's resources and keeps those the state does
// not know, except what an earlier down kept (up adopts those), which it
// returns apart.
func (e *Env) findOrphans(ctx context.Context, r *tfrun.Runner) (orphans, kept []sweep.Resource, names KeptNames, err error) {
	st, err := r.State(ctx)
	if err != nil {
		return nil, nil, names, fmt.Errorf("reading the state to find orphans: %w", err)
	}
	all, err := e.listCluster(ctx, true)
	if err != nil {
		return nil, nil, names, err
	}
	known := sweep.StateValues(st)
	if names, kept, err = e.kept(ctx, func() (map[string]bool, error) { return known, nil }); err != nil {
		return nil, nil, names, err
	}
	return withoutKept(sweep.Orphans(all, known), kept), kept, names, nil
}

func (e *Env) deleteResources(ctx context.Context, rs []sweep.Resource, progress func(sweep.Resource, error)) (*sweep.Result, error) {
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	res := sweep.Delete(ctx, cfg, rs, sweep.Options{Endpoint: e.Endpoint, Progress: progress})
	if err := res.Err(); err != nil {
		return res, fmt.Errorf("cluster %s: %w", e.Config.Name, err)
	}
	return res, nil
}

func (e *Env) sweepProgress() func(sweep.Resource, error) {
	return func(r sweep.Resource, err error) {
		if err != nil {
			e.opts.UI.Notef("  FAILED to delete %s: %v\n", r, err)
			return
		}
		e.opts.UI.Notef("  deleted %s\n", r)
	}
}

// noteResources writes kind, id and name of each resource to stderr.
func (e *Env) noteResources(rs []sweep.Resource) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  KIND\tID\tNAME")
	for _, r := range rs {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Kind, r.ID, r.Name)
	}
	tw.Flush()
	e.opts.UI.Notef("%s", b.String())
}
