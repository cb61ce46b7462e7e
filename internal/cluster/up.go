package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kforge/kforge/internal/cost"
	"github.com/kforge/kforge/internal/tfrun"
)

// DefaultPlanFile is where plan saves its plan, in the root module (up
// saves its own, kforge-up-<pid>.tfplan, and removes it).
const DefaultPlanFile = "kforge.tfplan"

// UpOptions tune RunUp.
type UpOptions struct {
	// Preview, when set, is shown the plan before anything is applied (the
	// text output); nil skips pricing the plan.
	Preview func(UpPreview)
	// Progress receives the apply's progress.
	Progress func(tfrun.Progress)
	// Replace are resource addresses to replace although unchanged
	// (terraform plan -replace): roll --ami latest's AMI records.
	Replace []string
	// AllowDisruption applies a plan with Disruptions; without it such a
	// plan is refused (exit code 2) and nothing is applied.
	AllowDisruption bool
	// AllowDowngrade applies over the state of a newer kforge release
	// (kforgeversion.go); without it up refuses, exit code 2.
	AllowDowngrade bool
	// VersionChange lets the plan change the Kubernetes version: only
	// kforge upgrade, which checks and sequences it, sets it.
	VersionChange bool
	// RollsNext: the caller replaces the outdated instances right after
	// the apply (upgrade, roll --ami latest), so up does not name them.
	RollsNext bool
}

// UpPreview is what up shows before it asks to apply.
type UpPreview struct {
	// Account is the AWS account and identity the apply runs as, so a
	// wrong profile is seen before anything changes.
	Account string
	Summary tfrun.Summary
	// Disruptions are shown only when AllowDisruption let them through.
	Disruptions []Disruption
	// CostLine is the estimate's one line, or CostErr why there is none
	// (a plan the estimate cannot price is still applied).
	CostLine string
	CostErr  error
}

// Cost is the preview's cost line, or why there is none.
func (p UpPreview) Cost() string {
	if p.CostErr != nil {
		return fmt.Sprintf("Cost estimate unavailable: %v", p.CostErr)
	}
	return p.CostLine
}

// UpResult is what RunUp did (the JSON `kforge up` prints).
type UpResult struct {
	Env     string        `json:"environment"`
	Applied bool          `json:"applied"`
	Summary tfrun.Summary `json:"summary"`
	// Elapsed is the command's wall time, set by the caller.
	Elapsed string  `json:"elapsed"`
	Outputs Outputs `json:"outputs"`
	// Outdated are the groups whose instances run an older launch
	// template: what only a roll applies (outdated.go).
	Outdated []OutdatedGroup `json:"outdated,omitempty"`
	// Images are the images the state's launch templates boot, read
	// before the plan (images.go, checkState); none before the first
	// apply, nor with amiID.
	Images   []ImageStatus   `json:"images,omitempty"`
	Emulator *EmulatorRecord `json:"emulator,omitempty"`
	Note     string          `json:"note,omitempty"`
}

// RunUp creates or updates the environment's infrastructure: state bucket
// and init, the checks on what the last apply left (the cluster key, the
// images that can no longer launch), removal of a killed apply's orphans,
// plan, adoption of security group rules that exist unrecorded, the
// account's IAM and the region's load balancer quotas against what the
// plan creates, confirmation through the UI when there are changes,
// apply, outputs, and the instances only a roll brings onto their group's
// launch template.
func RunUp(ctx context.Context, e *Env, o UpOptions) (*UpResult, error) {
	if err := e.checkLab(); err != nil {
		return nil, err
	}
	r, images, err := e.prepareChecked(ctx, true, o.AllowDowngrade)
	if err != nil {
		return nil, err
	}
	// A killed apply leaves resources the state does not know; what an
	// earlier down kept is adopted there too.
	if _, err := e.removeOrphans(ctx, r); err != nil {
		return nil, err
	}
	// A plan file of this run's own: a `kforge plan` of the environment
	// while this one waits for its confirmation writes DefaultPlanFile.
	planFile := filepath.Join(r.Dir(), fmt.Sprintf("kforge-up-%d.tfplan", os.Getpid()))
	defer os.Remove(planFile)
	plan, err := r.PlanReplacing(ctx, planFile, false, o.Replace...)
	if err != nil {
		return nil, err
	}
	// A rule whose creation was never recorded would fail the apply
	// with InvalidPermission.Duplicate: adopt it and plan again.
	if plan.Summary.Totals.Add+plan.Summary.Totals.Replace > 0 {
		full, err := r.FullPlan(ctx, plan)
		if err != nil {
			return nil, err
		}
		adopted, err := e.adoptUnrecordedRules(ctx, r, full)
		if err != nil {
			return nil, err
		}
		if adopted {
			if plan, err = r.PlanReplacing(ctx, planFile, false, o.Replace...); err != nil {
				return nil, err
			}
		}
	}
	var disruptions []Disruption
	if plan.Changes {
		full, err := r.FullPlan(ctx, plan)
		if err != nil {
			return nil, err
		}
		disruptions = Disruptions(full, o.VersionChange)
		if len(disruptions) > 0 && !o.AllowDisruption {
			return nil, disruptionError(e.Name, disruptions)
		}
		if err := e.checkPlanQuotas(ctx, full, true); err != nil {
			return nil, err
		}
	}
	if o.Preview != nil {
		full, err := r.FullPlan(ctx, plan)
		if err != nil {
			return nil, err
		}
		id, err := e.Caller(ctx)
		if err != nil {
			return nil, err
		}
		p := UpPreview{Account: fmt.Sprintf("%s (%s)", aws.ToString(id.Account), aws.ToString(id.Arn)), Summary: plan.Summary, Disruptions: disruptions}
		p.CostLine, p.CostErr = cost.PreviewLine(full)
		o.Preview(p)
	}
	res := &UpResult{Summary: plan.Summary, Images: images}
	if plan.Changes && plan.Summary.Total() > 0 {
		if err := e.opts.UI.Confirm(ctx, fmt.Sprintf("apply these changes to %s", e.Name), "yes"); err != nil {
			return nil, err
		}
		check := func(again *tfrun.PlanResult) error {
			return e.checkRecoveryPlan(ctx, r, again, disruptions, o.VersionChange)
		}
		if err := e.applyRecoveringLostCreates(ctx, r, plan, o.Replace, check, o.Progress); err != nil {
			return nil, explainZoneRefusal(err)
		}
		res.Applied = true
	} else if plan.Changes {
		// Output-only changes: apply them without asking.
		if err := r.Apply(ctx, plan, nil); err != nil {
			return nil, err
		}
	}
	raw, err := r.Outputs(ctx)
	if err != nil {
		return nil, err
	}
	if res.Outputs, _, err = DecodeOutputs(raw); err != nil {
		return nil, err
	}
	if !o.RollsNext {
		res.Outdated = e.noteOutdated(ctx, &res.Outputs)
	}
	res.Env, res.Emulator, res.Note = e.Name, e.Emulator, e.EmulatorNote()
	return res, nil
}

// PlanOptions tune RunPlan.
type PlanOptions struct {
	// File is where to save the plan; empty means DefaultPlanFile in the
	// staged root module.
	File string
	// Full also renders Terraform's complete plan as text.
	Full bool
}

// PlanResult is a saved plan and its summary.
type PlanResult struct {
	Env  string
	Plan *tfrun.PlanResult
	// Text is Terraform's full plan (PlanOptions.Full).
	Text string
	// Disruptions are the changes `kforge up` refuses without
	// --allow-disruption.
	Disruptions []Disruption
	// Images are the images the state's launch templates boot, as
	// UpResult.Images.
	Images []ImageStatus
}

// MarshalJSON is the result `kforge plan --output json` prints.
func (r *PlanResult) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Env         string        `json:"environment"`
		Changes     bool          `json:"changes"`
		Summary     tfrun.Summary `json:"summary"`
		Disruptions []Disruption  `json:"disruptions"`
		File        string        `json:"plan_file"`
		Images      []ImageStatus `json:"images,omitempty"`
	}{r.Env, r.Plan.Changes, r.Plan.Summary, append([]Disruption{}, r.Disruptions...), r.Plan.File, r.Images})
}

// OutFile is an --out flag (plan's, graph's) as an absolute path ("" for
// none), checked before any cloud call: the file would only fail to be
// written at the end, after a whole refresh.
func OutFile(out string) (string, error) {
	if out == "" {
		return "", nil
	}
	file, err := filepath.Abs(out)
	if err != nil {
		return "", UsageError("--out %s: %v", out, err)
	}
	if fi, err := os.Stat(filepath.Dir(file)); err != nil || !fi.IsDir() {
		return "", UsageError("--out %s: directory %s does not exist; create it or name a file in an existing directory", out, filepath.Dir(file))
	}
	return file, nil
}

// RunPlan plans the environment's changes and saves the plan.
func RunPlan(ctx context.Context, e *Env, o PlanOptions) (*PlanResult, error) {
	r, images, err := e.prepareChecked(ctx, false, false)
	if err != nil {
		return nil, err
	}
	// Shows the import of what an earlier down kept, as up would do.
	if err := e.adoptKept(ctx, r); err != nil {
		return nil, err
	}
	file := o.File
	if file == "" {
		file = DefaultPlanFile
	}
	plan, err := r.Plan(ctx, file, false)
	if err != nil {
		return nil, err
	}
	res := &PlanResult{Env: e.Name, Plan: plan, Images: images}
	if plan.Changes {
		full, err := r.FullPlan(ctx, plan)
		if err != nil {
			return nil, err
		}
		res.Disruptions = Disruptions(full, false)
		if err := e.checkPlanQuotas(ctx, full, false); err != nil {
			return nil, err
		}
	}
	if o.Full {
		if res.Text, err = r.ShowPlan(ctx, plan.File); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// prepareChecked is Prepare followed by the checks plan and up make before
// Terraform plans: on what the last apply left (checkState), the instance
// types' capacity and the region's network quotas, whose shortfall refuses
// up (applying) and only warns in plan, as does a newer kforge's last
// apply unless allowDowngrade. It returns the images the state's launch
// templates boot.
func (e *Env) prepareChecked(ctx context.Context, applying, allowDowngrade bool) (*tfrun.Runner, []ImageStatus, error) {
	r, err := e.Prepare(ctx)
	if err != nil {
		return nil, nil, err
	}
	images, err := e.checkState(ctx, r, applying, allowDowngrade)
	if err != nil {
		return nil, nil, err
	}
	if err := e.checkCapacity(ctx); err != nil {
		return nil, nil, err
	}
	if err := e.checkNetworkQuotas(ctx, applying); err != nil {
		return nil, nil, err
	}
	return r, images, nil
}

// checkState reads the state's outputs once for the checks on what the
// last apply left: the kforge build that applied it (checkKforgeVersion),
// the cluster key (checkStateKey), then the images its launch templates
// boot (noteImages), so that the warning on an image that can no longer
// launch comes with the plan, before anything is applied.
// No applied cluster is nothing to check. With amiID, every launch
// template boots that image after the apply, and checkConfiguredImage
// refuses one that cannot launch: the state's images are not read.
func (e *Env) checkState(ctx context.Context, state outputsReader, applying, allowDowngrade bool) ([]ImageStatus, error) {
	raw, err := state.Outputs(ctx)
	if err != nil {
		return nil, err
	}
	out, ok, err := DecodeOutputs(raw)
	if err != nil || !ok {
		return nil, err
	}
	if err := e.checkKforgeVersion(out.KforgeVersion, applying, allowDowngrade); err != nil {
		return nil, err
	}
	if err := e.checkStateKey(ctx, &out); err != nil {
		return nil, err
	}
	if e.Config.AMIID != "" {
		return nil, nil
	}
	return e.noteImages(ctx, &out), nil
}

// outputsReader reads the root module's outputs from the state, as
// tfrun.Runner does.
type outputsReader interface {
	Outputs(context.Context) (map[string]json.RawMessage, error)
}

// checkLab refuses --nodes (Options.Nodes) unless the environment's
// emulator runs inside a lab, before any cloud call.
func (e *Env) checkLab() error {
	if !e.opts.Nodes || (e.Emulator != nil && e.Emulator.Lab) {
		return nil
	}
	if !e.Local {
		return UsageError("--nodes is for local environments (emulator: true or --local); %s is not one", e.Name)
	}
	return Failure("the emulator of %s already runs without a lab (pid %d): run `kforge down %s` first, then up --nodes", e.Name, e.Emulator.PID, e.Name)
}
