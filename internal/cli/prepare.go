package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/backend"
	"github.com/kforge/kforge/internal/servicerole"
	"github.com/kforge/kforge/internal/tfrun"
)

// stateBucketTags mark the state bucket as kforge's. They do not name a
// cluster: the default bucket is shared by every environment of an account
// and region, and outlives `kforge down` unless --purge-state.
var stateBucketTags = map[string]string{
	"kforge.io/managed-by": "kforge",
	"kforge.io/purpose":    "terraform-state",
}

// ensureStateBucket creates the state bucket if missing and applies its
// settings (idempotent).
func (e *Env) ensureStateBucket(ctx context.Context) (*backend.Result, error) {
	bucket, err := e.StateBucket(ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := awsx.Config(ctx, e.StateRegion(), e.Endpoint)
	if err != nil {
		return nil, err
	}
	return backend.Ensure(ctx, awsx.S3Client(cfg, e.Endpoint), backend.Options{
		Bucket:   bucket,
		Region:   e.StateRegion(),
		Emulated: e.Emulated(),
		Tags:     stateBucketTags,
	})
}

// stateBucketExists reports whether the state bucket is there.
func (e *Env) stateBucketExists(ctx context.Context) (bool, error) {
	bucket, err := e.StateBucket(ctx)
	if err != nil {
		return false, err
	}
	cfg, err := awsx.Config(ctx, e.StateRegion(), e.Endpoint)
	if err != nil {
		return false, err
	}
	return backend.Exists(ctx, awsx.S3Client(cfg, e.Endpoint), bucket)
}

// ensureAutoScalingRole creates the account's Auto Scaling service-linked
// role when missing: the cluster key's policy names it, and AWS would create
// it only with the first Auto Scaling group, after the key.
func (e *Env) ensureAutoScalingRole(ctx context.Context) error {
	cfg, err := awsx.Config(ctx, e.Config.Region, e.Endpoint)
	if err != nil {
		return err
	}
	_, _, err = servicerole.EnsureAutoScaling(ctx, iam.NewFromConfig(cfg))
	return err
}

// prepare makes the environment ready for Terraform: state bucket, the Auto
// Scaling service-linked role, staged modules, terraform init (skipped when
// nothing it depends on changed).
func (e *Env) prepare(ctx context.Context) (*tfrun.Runner, error) {
	if _, err := e.ensureStateBucket(ctx); err != nil {
		return nil, err
	}
	if err := e.ensureAutoScalingRole(ctx); err != nil {
		return nil, err
	}
	r, err := e.Runner(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.Init(ctx, false); err != nil {
		return nil, err
	}
	return r, nil
}

// printSummary prints a plan summary grouped by module.
func (app *App) printSummary(s tfrun.Summary) {
	if s.Total() == 0 {
		app.Printf("No changes: the infrastructure matches the configuration.\n")
		return
	}
	rows := [][]string{{"MODULE", "ADD", "CHANGE", "DESTROY", "REPLACE"}}
	for _, m := range s.Modules {
		name := m.Module
		if name == "" {
			name = "(root)"
		}
		rows = append(rows, []string{name, itoa(m.Add), itoa(m.Change), itoa(m.Destroy), itoa(m.Replace)})
	}
	t := s.Totals
	rows = append(rows, []string{"total", itoa(t.Add), itoa(t.Change), itoa(t.Destroy), itoa(t.Replace)})
	app.Table(rows)
	app.Printf("Plan: %d to add, %d to change, %d to destroy, %d to replace.\n", t.Add, t.Change, t.Destroy, t.Replace)
}

func itoa(n int) string { return fmt.Sprint(n) }

// progressPrinter prints apply/destroy progress lines to stderr.
func (app *App) progressPrinter(verb string) func(tfrun.Progress) {
	past := map[string]string{"create": "created", "update": "updated", "delete": "destroyed", "replace": "replaced", "read": "read"}
	return func(p tfrun.Progress) {
		stamp := fmt.Sprintf("[%3d/%-3d %s]", p.Done, p.Total, fmtDuration(p.Elapsed))
		switch p.Event {
		case "start":
			app.Notef("%s %s %s...\n", stamp, verbing(p.Action), p.Resource)
		case "progress":
			app.Notef("%s still %s %s\n", stamp, verbing(p.Action), p.Resource)
		case "complete":
			done := past[p.Action]
			if done == "" {
				done = p.Action + " done"
			}
			app.Notef("%s %s %s\n", stamp, done, p.Resource)
		case "errored":
			app.Notef("%s FAILED to %s %s\n", stamp, p.Action, p.Resource)
		}
	}
}

func verbing(action string) string {
	switch action {
	case "create":
		return "creating"
	case "update":
		return "updating"
	case "delete":
		return "destroying"
	case "replace":
		return "replacing"
	case "read":
		return "reading"
	}
	return action
}

func fmtDuration(d time.Duration) string {
	d = d.Truncate(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

// emulatorNote reminds the user where a local cluster lives.
func (e *Env) emulatorNote() string {
	switch {
	case e.Local && e.Emulator != nil:
		return fmt.Sprintf("Local emulator: moto_server pid %d at %s. Its data (this cluster and its state) lives only as long as that process: `kforge down %s` destroys the cluster and stops it; if it stops first, everything is gone.", e.Emulator.PID, e.Emulator.URL, e.Name)
	case e.Endpoint != "":
		return fmt.Sprintf("Endpoint %s (not managed by kforge): an emulator keeps its data only while its process runs.", e.Endpoint)
	}
	return ""
}
