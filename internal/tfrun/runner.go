package tfrun

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/digest"
)

// Files kforge writes into the staged root module.
const (
	TFVarsFile  = "terraform.tfvars.json"
	BackendFile = "kforge.s3.tfbackend"
	initStamp   = ".terraform/kforge-init.sha256"
)

// Backend is the S3 backend of one environment's state.
type Backend struct {
	Bucket string
	Key    string
	Region string
	// Endpoint is an AWS-compatible endpoint (emulator); empty for AWS.
	Endpoint string
}

// Options configures a Runner.
type Options struct {
	// WorkDir is the environment's work directory (.kforge/<env>); modules
	// are staged into WorkDir/terraform and logs written to WorkDir/logs.
	WorkDir string
	// Modules is the terraform/ tree to stage (kforge.Terraform, sub "terraform").
	Modules fs.FS
	// TFVars is the content of terraform.tfvars.json.
	TFVars []byte
	// Backend is where the state lives.
	Backend Backend
	// PluginDir, when set, is passed to init as -plugin-dir (offline mirror).
	PluginDir string
	// Env is added to Terraform's environment (KEY=VALUE).
	Env []string
	// EnvName names the environment in messages (kforge unlock <env> ...).
	EnvName string
}

// Runner runs Terraform in one environment's staged root module.
type Runner struct {
	opts    Options
	dir     string // staged root module
	logDir  string
	tf      *tfexec.Terraform
	Version string
	// FoundMirror is the provider mirror New found and remembered for this
	// environment because none was given or remembered; the caller says so.
	FoundMirror *Mirror
}

// New stages the modules, writes the variables and backend files and finds
// terraform. It makes no cloud call.
func New(ctx context.Context, opts Options) (*Runner, error) {
	path, v, err := FindTerraform(ctx)
	if err != nil {
		return nil, err
	}
	if opts.PluginDir, err = rememberPluginDir(opts.WorkDir, opts.PluginDir); err != nil {
		return nil, err
	}
	var found *Mirror
	if opts.PluginDir == "" {
		// Offline use of a second environment: a mirror kforge or Terraform
		// already knows beats a registry lookup that cannot succeed.
		if m, ok := FindMirror(opts.WorkDir); ok {
			if opts.PluginDir, err = rememberPluginDir(opts.WorkDir, m.Dir); err != nil {
				return nil, err
			}
			found = &m
		}
	}
	stageDir := filepath.Join(opts.WorkDir, "terraform")
	if _, err := Stage(opts.Modules, stageDir); err != nil {
		return nil, err
	}
	dir := filepath.Join(stageDir, RootModule)
	if err := writeIfChanged(filepath.Join(dir, TFVarsFile), opts.TFVars); err != nil {
		return nil, err
	}
	if err := writeIfChanged(filepath.Join(dir, BackendFile), backendHCL(opts.Backend)); err != nil {
		return nil, err
	}
	tf, err := tfexec.NewTerraform(dir, path)
	if err != nil {
		return nil, fmt.Errorf("preparing terraform in %s: %w", dir, err)
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	for _, kv := range opts.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	// tfexec sets these itself and refuses them in SetEnv.
	for _, k := range tfexec.ProhibitedEnv(env) {
		delete(env, k)
	}
	if err := tf.SetEnv(env); err != nil {
		return nil, fmt.Errorf("setting terraform environment: %w", err)
	}
	// After Ctrl-C, Terraform finishes the resources in progress before it
	// saves the state: terraform-exec's default kills it after a minute.
	if err := tf.SetWaitDelay(StopWait); err != nil {
		return nil, fmt.Errorf("setting terraform's stop wait: %w", err)
	}
	return &Runner{opts: opts, dir: dir, logDir: filepath.Join(opts.WorkDir, "logs"), tf: tf, Version: v.String(), FoundMirror: found}, nil
}

// StopWait is how long Terraform has to stop after the first Ctrl-C (or
// SIGTERM) before it is killed: long enough for the slowest create kforge
// makes to finish (a load balancer, a NAT gateway, a file system), so that
// it is recorded in the state. A third Ctrl-C kills it at once.
const StopWait = 20 * time.Minute

// Dir is the staged root module Terraform runs in.
func (r *Runner) Dir() string { return r.dir }

// backendHCL renders the partial S3 backend configuration. Against an
// endpoint the backend talks to it path-style and skips the AWS-only checks.
func backendHCL(b Backend) []byte {
	var s strings.Builder
	fmt.Fprintf(&s, "bucket       = %q\nkey          = %q\nregion       = %q\n", b.Bucket, b.Key, b.Region)
	s.WriteString("encrypt      = true\nuse_lockfile = true\n")
	if b.Endpoint != "" {
		fmt.Fprintf(&s, "endpoints = {\n  s3  = %q\n  sts = %q\n}\n", b.Endpoint, b.Endpoint)
		s.WriteString("use_path_style              = true\n")
		s.WriteString("skip_credentials_validation = true\n")
		s.WriteString("skip_requesting_account_id  = true\n")
		s.WriteString("skip_metadata_api_check     = true\n")
		s.WriteString("skip_region_validation      = true\n")
		s.WriteString("skip_s3_checksum            = true\n")
	}
	return []byte(s.String())
}

// Init runs terraform init with the S3 backend, unless the same backend and
// modules were initialised already. force re-runs it anyway.
func (r *Runner) Init(ctx context.Context, force bool) error {
	stamp, err := r.initFingerprint()
	if err != nil {
		return err
	}
	stampPath := filepath.Join(r.dir, initStamp)
	if !force {
		if old, err := os.ReadFile(stampPath); err == nil && string(old) == stamp {
			return nil
		}
	}
	opts := []tfexec.InitOption{
		tfexec.BackendConfig(BackendFile),
		tfexec.Reconfigure(true), // the endpoint (emulator port) may change between runs
		tfexec.Upgrade(false),
	}
	if r.opts.PluginDir != "" {
		opts = append(opts, tfexec.PluginDir(r.opts.PluginDir))
	}
	var diags Diagnostics
	err = r.withLog(ctx, "init", func(ctx context.Context, log io.Writer) error {
		return r.tf.InitJSON(ctx, io.MultiWriter(log, &diags), opts...)
	})
	if err != nil {
		err = r.explain("init", err, &diags)
		if r.opts.PluginDir == "" && registryFailure(err.Error()) {
			err = fmt.Errorf("%w\n%s", err, noMirrorHint)
		}
		return err
	}
	return os.WriteFile(stampPath, []byte(stamp), 0o644)
}

// initFingerprint hashes what init depends on: backend, plugin dir, modules.
func (r *Runner) initFingerprint() (string, error) {
	h := sha256.New()
	h.Write(backendHCL(r.opts.Backend))
	h.Write([]byte("\x00" + r.opts.PluginDir + "\x00"))
	err := filepath.WalkDir(filepath.Dir(r.dir), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".terraform" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".tf") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		h.Write([]byte(path))
		h.Write(data)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("fingerprinting staged modules: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// PlanResult is a saved plan and its summary. The summary comes from the
// plan's JSON stream; the full plan (terraform show -json, which loads the
// providers' schemas again and costs seconds) is read only on demand, by
// (*Runner).FullPlan.
type PlanResult struct {
	File    string
	Changes bool
	Summary Summary
	full    *tfjson.Plan
	// digest is the saved plan's SHA-256 as Terraform wrote it: what is
	// applied or read later must be the plan that was summarised.
	digest string
}

// unchanged checks that the saved plan is still the one this result
// summarised: another plan or up of the same environment writes to the
// same work directory, and Terraform applies any saved plan of the same
// state serial.
func (p *PlanResult) unchanged() error {
	d, err := digest.File(p.File)
	if err != nil {
		return fmt.Errorf("reading the saved plan %s: %w", p.File, err)
	}
	if d != p.digest {
		return fmt.Errorf("the saved plan %s is no longer the one shown (another kforge plan or up of this environment wrote it meanwhile): nothing was applied; run the command again", p.File)
	}
	return nil
}

// Plan writes a saved plan to planFile (relative to the root module or
// absolute) and summarises it from Terraform's JSON stream. destroy plans a
// destroy.
func (r *Runner) Plan(ctx context.Context, planFile string, destroy bool) (*PlanResult, error) {
	return r.PlanReplacing(ctx, planFile, destroy)
}

// PlanReplacing is Plan with -replace for each address: those resources
// are planned for replacement even though nothing about them changed.
func (r *Runner) PlanReplacing(ctx context.Context, planFile string, destroy bool, replace ...string) (*PlanResult, error) {
	if !filepath.IsAbs(planFile) {
		planFile = filepath.Join(r.dir, planFile)
	}
	verb := "plan"
	if destroy {
		verb = "plan-destroy"
	}
	var changes bool
	var stream planStream
	err := r.withLog(ctx, verb, func(ctx context.Context, log io.Writer) error {
		var err error
		opts := []tfexec.PlanOption{tfexec.Out(planFile), tfexec.Destroy(destroy)}
		for _, a := range replace {
			opts = append(opts, tfexec.Replace(a))
		}
		changes, err = r.tf.PlanJSON(ctx, io.MultiWriter(log, &stream), opts...)
		return err
	})
	if err != nil {
		return nil, r.explain("plan", err, &stream.Diagnostics)
	}
	res := &PlanResult{File: planFile, Changes: changes, Summary: stream.Summary()}
	if res.digest, err = digest.File(planFile); err != nil {
		return nil, fmt.Errorf("reading the saved plan %s: %w", planFile, err)
	}
	if stream.changesWhatChangedOutside() {
		full, err := r.FullPlan(ctx, res)
		if err != nil {
			return nil, err
		}
		res.Summary.UndoneOutside = undoneOutside(full)
	}
	return res, nil
}

// FullPlan reads the saved plan of res as JSON (terraform show -json) for
// what needs more than the summary (cost, graph); it is read once and kept
// in res.
func (r *Runner) FullPlan(ctx context.Context, res *PlanResult) (*tfjson.Plan, error) {
	if res.full != nil {
		return res.full, nil
	}
	if err := res.unchanged(); err != nil {
		return nil, err
	}
	plan, err := r.tf.ShowPlanFile(ctx, res.File)
	if err != nil {
		return nil, fmt.Errorf("reading the saved plan %s: %w", res.File, err)
	}
	res.full = plan
	return plan, nil
}

// Apply applies a saved plan, reporting progress events to progress (may be
// nil). total is the number of resource changes in the plan.
func (r *Runner) Apply(ctx context.Context, plan *PlanResult, progress func(Progress)) error {
	if err := plan.unchanged(); err != nil {
		return err
	}
	tracker := newTracker(plan.Summary.Total(), progress)
	err := r.withLog(ctx, "apply", func(ctx context.Context, log io.Writer) error {
		return r.tf.ApplyJSON(ctx, io.MultiWriter(log, tracker), tfexec.DirOrPlan(plan.File))
	})
	if err != nil {
		return r.explain("apply", err, tracker.diags)
	}
	return nil
}

// Destroy runs terraform destroy with progress events.
func (r *Runner) Destroy(ctx context.Context, total int, progress func(Progress)) error {
	tracker := newTracker(total, progress)
	err := r.withLog(ctx, "destroy", func(ctx context.Context, log io.Writer) error {
		return r.tf.DestroyJSON(ctx, io.MultiWriter(log, tracker))
	})
	if err != nil {
		return r.explain("destroy", err, tracker.diags)
	}
	return nil
}

// StateRm removes the given addresses (resources or whole modules) from
// the state without touching what they manage; Terraform then neither
// knows nor destroys them. Each address must be in the state.
func (r *Runner) StateRm(ctx context.Context, addresses ...string) error {
	for _, a := range addresses {
		err := r.withLog(ctx, "state-rm", func(ctx context.Context, log io.Writer) error {
			r.tf.SetStdout(log)
			r.tf.SetStderr(log)
			return r.tf.StateRm(ctx, a)
		})
		if err != nil {
			return r.explain("state rm "+a, err, nil)
		}
	}
	return nil
}

// Outputs reads the root module's outputs from the state.
func (r *Runner) Outputs(ctx context.Context) (map[string]json.RawMessage, error) {
	metas, err := r.tf.Output(ctx)
	if err != nil {
		return nil, r.explain("output", err, nil)
	}
	out := make(map[string]json.RawMessage, len(metas))
	for k, m := range metas {
		out[k] = m.Value
	}
	return out, nil
}

// State reads the current state (terraform show -json).
func (r *Runner) State(ctx context.Context) (*tfjson.State, error) {
	st, err := r.tf.Show(ctx)
	if err != nil {
		return nil, r.explain("show", err, nil)
	}
	return st, nil
}

// ShowPlan renders a saved plan as text, for --full.
func (r *Runner) ShowPlan(ctx context.Context, planFile string) (string, error) {
	if !filepath.IsAbs(planFile) {
		planFile = filepath.Join(r.dir, planFile)
	}
	s, err := r.tf.ShowPlanFileRaw(ctx, planFile)
	if err != nil {
		return "", fmt.Errorf("rendering the plan %s: %w", planFile, err)
	}
	return s, nil
}

// ForceUnlock releases a state lock held by a run that died.
func (r *Runner) ForceUnlock(ctx context.Context, lockID string) error {
	err := r.withLog(ctx, "force-unlock", func(ctx context.Context, log io.Writer) error {
		r.tf.SetStdout(log)
		r.tf.SetStderr(log)
		return r.tf.ForceUnlock(ctx, lockID)
	})
	if err != nil {
		return fmt.Errorf("terraform force-unlock %s: %w", lockID, err)
	}
	return nil
}

// withLog runs fn with a new log file .kforge/<env>/logs/<time>-<verb>.log,
// under the interrupt handling of RunInterruptible.
func (r *Runner) withLog(ctx context.Context, verb string, fn func(context.Context, io.Writer) error) error {
	if err := os.MkdirAll(r.logDir, 0o755); err != nil {
		return fmt.Errorf("creating log directory: %w", err)
	}
	name := fmt.Sprintf("%s-%s.log", time.Now().UTC().Format("20060102T150405.000Z"), verb)
	path := filepath.Join(r.logDir, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("opening log %s: %w", path, err)
	}
	defer f.Close()
	// terraform-exec's *JSON methods keep the writer as the Terraform
	// object's stdout; later runs would write into this closed log.
	defer r.tf.SetStdout(io.Discard)
	defer r.tf.SetStderr(io.Discard)
	return fn(ctx, f)
}

// LogDir is where run logs are written.
func (r *Runner) LogDir() string { return r.logDir }

func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return nil
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// ErrInterrupted is returned (wrapped) when a run stopped on Ctrl-C.
var ErrInterrupted = errors.New("interrupted")

// pluginDirFile records, per environment, the provider mirror its init
// used, so that later commands (status, down) of an offline environment
// work without repeating --plugin-dir; giving one again replaces it.
const pluginDirFile = "plugin-dir"

// rememberPluginDir returns dir, recording it for the work directory, or
// the recorded one when dir is empty.
func rememberPluginDir(workDir, dir string) (string, error) {
	path := filepath.Join(workDir, pluginDirFile)
	if dir == "" {
		recorded, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("reading the recorded provider mirror: %w", err)
		}
		return strings.TrimSpace(string(recorded)), nil
	}
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", workDir, err)
	}
	if err := writeIfChanged(path, []byte(dir+"\n")); err != nil {
		return "", fmt.Errorf("recording the provider mirror: %w", err)
	}
	return dir, nil
}
