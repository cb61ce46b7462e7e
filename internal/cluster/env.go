package cluster

import (
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	kforge "github.com/kforge/kforge"
	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/backend"
	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/lab"
	"github.com/kforge/kforge/internal/localaws"
	"github.com/kforge/kforge/internal/tfrun"
)

// EmulatorMode says what Open does about a local emulator.
type EmulatorMode int

const (
	// NeedEmulator fails when the environment is local and none runs.
	NeedEmulator EmulatorMode = iota
	// StartEmulator starts one when the environment is local and none runs.
	StartEmulator
	// OptionalEmulator leaves Env.EmulatorGone set when none runs.
	OptionalEmulator
)

// Options are the settings of a run that are not in the environment's
// file: the command line's global flags.
type Options struct {
	// EnvsDir holds the <env>.yaml files.
	EnvsDir string
	// WorkDir holds the work directories <WorkDir>/<env>.
	WorkDir string
	// Endpoint is an AWS-compatible endpoint kforge neither starts nor stops.
	Endpoint string
	// Local: use a local emulator whatever the config says.
	Local bool
	// AgentBinary is the linux kforge binary uploaded for the nodes; empty
	// means this executable.
	AgentBinary string
	// PluginDir is Terraform's provider mirror (-plugin-dir).
	PluginDir string
	// Nodes: a local emulator this run starts runs inside a lab that boots
	// every instance as a real node (up --nodes, docs/LAB.md).
	Nodes bool
	// UI prints and confirms for the workflows.
	UI UI
	// Version is this kforge's build (cli.Version), recorded in the state
	// by every apply and compared with the last one's (kforgeversion.go).
	Version string
}

// Env is an environment resolved for a command: its validated config, its
// work directory and where its AWS is.
type Env struct {
	Name   string
	Config *config.Cluster
	// Dir is the work directory .kforge/<env> (absolute).
	Dir string
	// Endpoint is the AWS-compatible endpoint; empty on real AWS.
	Endpoint string
	// Local is true when kforge manages a local emulator for this env.
	Local bool
	// Emulator is the managed emulator's record (Local only).
	Emulator *EmulatorRecord
	// EmulatorGone: Local, but the emulator is not running (OptionalEmulator).
	EmulatorGone bool
	// startedEmulator: this run started Emulator (it was not running).
	startedEmulator bool

	opts   Options
	awsCfg *aws.Config
	caller *sts.GetCallerIdentityOutput
	bucket string
}

// EmulatorRecord is .kforge/<env>/emulator.json: the detached emulator later
// commands reuse while it is alive.
type EmulatorRecord struct {
	PID     int       `json:"pid"`
	URL     string    `json:"url"`
	Started time.Time `json:"started"`
	Log     string    `json:"log"`
	// Lab is set when the emulator runs inside a lab (up --nodes); LabID
	// names it for the sweep after down.
	Lab   bool   `json:"lab,omitempty"`
	LabID string `json:"lab_id,omitempty"`
}

// Open loads and validates the environment (no cloud call when that
// fails) and resolves its endpoint: o.Endpoint, or a local emulator for an
// `emulator: true` environment or o.Local, or real AWS.
func Open(ctx context.Context, name string, mode EmulatorMode, o Options) (*Env, error) {
	return OpenChecked(ctx, name, mode, o, nil)
}

// OpenChecked is Open that first runs check, when not nil, on the valid
// configuration: a command's own input checked against the environment
// (exit code 2), before any warning is printed or any cloud call made.
func OpenChecked(ctx context.Context, name string, mode EmulatorMode, o Options, check func(*config.Cluster) error) (*Env, error) {
	cfg, err := config.LoadEnv(o.EnvsDir, name)
	if err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(cfg); err != nil {
			return nil, err
		}
	}
	for _, w := range cfg.Warnings {
		o.UI.Notef("warning: %s\n", w.String())
	}
	workDir, err := filepath.Abs(o.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("resolving work directory %s: %w", o.WorkDir, err)
	}
	e := &Env{Name: name, Config: cfg, Dir: filepath.Join(workDir, name), opts: o}
	if err := os.MkdirAll(e.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating work directory %s: %w", e.Dir, err)
	}
	if err := ignoreInGit(workDir); err != nil {
		return nil, err
	}
	switch {
	case o.Endpoint != "":
		e.Endpoint = o.Endpoint
	case cfg.Emulator || o.Local:
		e.Local = true
		if err := e.resolveEmulator(ctx, mode); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// workDirIgnore keeps the work directory out of git: it lies in the
// directory kforge runs from, often an infrastructure repository, and
// holds the admin kubeconfig (a year-long cluster-admin credential that
// cannot be revoked), plans and variables.
const workDirIgnore = "# Written by kforge: working files and the admin kubeconfig, never to be committed.\n*\n"

// ignoreInGit writes dir/.gitignore unless one is there already.
func ignoreInGit(dir string) error {
	path := filepath.Join(dir, ".gitignore")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("keeping the work directory out of git: %w", err)
	}
	if _, err := f.WriteString(workDirIgnore); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func (e *Env) emulatorFile() string { return filepath.Join(e.Dir, "emulator.json") }

// resolveEmulator reuses the recorded emulator when it is alive, or starts
// one (StartEmulator).
func (e *Env) resolveEmulator(ctx context.Context, mode EmulatorMode) error {
	if rec, err := readEmulatorRecord(e.emulatorFile()); err == nil && localaws.Alive(rec.PID) && localaws.Answers(ctx, rec.URL) {
		e.Emulator, e.Endpoint = rec, rec.URL
		return nil
	}
	switch mode {
	case OptionalEmulator:
		e.EmulatorGone = true
		return nil
	case NeedEmulator:
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("the local emulator of environment %q is not running, and its data went with it: run `kforge up %s%s` first", e.Name, e.Name, e.localFlag())}
	}
	// Every command that starts an emulator goes on to run Terraform: a
	// missing or too old one is said before an emulator starts for nothing.
	if _, _, err := tfrun.FindTerraform(ctx); err != nil {
		return err
	}
	if e.opts.Nodes {
		rec, err := e.startLab(ctx)
		if err != nil {
			return err
		}
		if err := e.recordEmulator(rec); err != nil {
			return err
		}
		e.startedEmulator = true
		return nil
	}
	logPath := filepath.Join(e.Dir, "emulator.log")
	em, err := localaws.Start(ctx, localaws.Options{
		Detach:      true,
		NoRecording: true,
		LogPath:     logPath,
		// Modules may attach AWS-managed policies; moto only knows them when asked.
		Env: []string{"MOTO_IAM_LOAD_MANAGED_POLICIES=true"},
	})
	if err != nil {
		return fmt.Errorf("starting the local AWS emulator: %w", err)
	}
	rec := &EmulatorRecord{PID: em.PID(), URL: em.URL(), Started: time.Now().UTC(), Log: logPath}
	if err := e.recordEmulator(rec); err != nil {
		_ = em.Stop()
		return err
	}
	e.opts.UI.Notef("Started the local AWS emulator (moto_server, pid %d) at %s; log: %s\n", rec.PID, rec.URL, logPath)
	e.startedEmulator = true
	return nil
}

// recordEmulator writes emulator.json so later commands reuse (and down
// stops) the emulator, and points the environment at it.
func (e *Env) recordEmulator(rec *EmulatorRecord) error {
	data, _ := json.MarshalIndent(rec, "", "  ")
	if err := os.WriteFile(e.emulatorFile(), append(data, '\n'), 0o644); err != nil {
		if rec.Lab {
			_ = localaws.StopPID(rec.PID)
		}
		return fmt.Errorf("recording the emulator in %s: %w", e.emulatorFile(), err)
	}
	e.Emulator, e.Endpoint = rec, rec.URL
	return nil
}

// ReleaseEmulator ends a read-only command (plan, cost, graph): an emulator
// it started holds nothing worth keeping, since nothing was applied to it, so
// it stops; one that was running before stays, and one line says so. A nil
// Env (the plan came from a file) does nothing.
func (e *Env) ReleaseEmulator() {
	if e == nil || e.Emulator == nil {
		return
	}
	pid := e.Emulator.PID
	if !e.startedEmulator {
		e.opts.UI.Notef("Left the local AWS emulator (pid %d) running, as it was before: `kforge down %s%s` stops it.\n", pid, e.Name, e.localFlag())
		return
	}
	if err := e.StopEmulator(); err != nil {
		e.opts.UI.Notef("warning: stopping the local AWS emulator this command started (pid %d): %v\n", pid, err)
		return
	}
	e.opts.UI.Notef("Stopped the local AWS emulator this command started (pid %d).\n", pid)
}

// localFlag is " --local" when the environment is local only through --local.
func (e *Env) localFlag() string {
	if e.Local && !e.Config.Emulator {
		return " --local"
	}
	return ""
}

// StopEmulator stops the environment's managed emulator and forgets it.
func (e *Env) StopEmulator() error {
	if e.Emulator == nil {
		return nil
	}
	if err := localaws.StopPID(e.Emulator.PID); err != nil {
		return err
	}
	if e.Emulator.Lab {
		// The lab stops its nodes on SIGTERM; whatever a killed lab left
		// (namespaces, mounts, sandboxes) goes here.
		if err := lab.Sweep(context.Background(), e.Emulator.LabID); err != nil {
			return fmt.Errorf("removing what the lab left: %w", err)
		}
	}
	if err := os.Remove(e.emulatorFile()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", e.emulatorFile(), err)
	}
	e.Emulator = nil
	return nil
}

func readEmulatorRecord(path string) (*EmulatorRecord, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rec EmulatorRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return &rec, nil
}

// Emulated reports whether the environment targets an emulator endpoint.
func (e *Env) Emulated() bool { return e.Endpoint != "" }

// StateRegion is the region of the state bucket.
func (e *Env) StateRegion() string {
	if e.Config.State.Region != "" {
		return e.Config.State.Region
	}
	return e.Config.Region
}

// StateKey is the object key of the environment's state.
func (e *Env) StateKey() string {
	if e.Config.State.Key != "" {
		return e.Config.State.Key
	}
	return fmt.Sprintf("%s/%s/terraform.tfstate", e.Config.Name, e.Config.Environment)
}

// AWSConfig is an SDK configuration for the environment's region and endpoint.
func (e *Env) AWSConfig(ctx context.Context) (aws.Config, error) {
	if e.awsCfg == nil {
		cfg, err := awsx.Config(ctx, e.Config.Region, e.Endpoint)
		if err != nil {
			return aws.Config{}, err
		}
		e.awsCfg = &cfg
	}
	return *e.awsCfg, nil
}

// Caller is the identity the environment's AWS calls run as (STS
// GetCallerIdentity, asked once).
func (e *Env) Caller(ctx context.Context) (*sts.GetCallerIdentityOutput, error) {
	if e.caller == nil {
		cfg, err := e.AWSConfig(ctx)
		if err != nil {
			return nil, err
		}
		id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return nil, fmt.Errorf("finding the AWS account (STS GetCallerIdentity): %w", err)
		}
		e.caller = id
	}
	return e.caller, nil
}

// StateBucket is the configured state bucket or the default
// kforge-state-<account>-<region> (an STS call).
func (e *Env) StateBucket(ctx context.Context) (string, error) {
	if e.bucket != "" {
		return e.bucket, nil
	}
	if e.Config.State.Bucket != "" {
		e.bucket = e.Config.State.Bucket
		return e.bucket, nil
	}
	cfg, err := awsx.Config(ctx, e.StateRegion(), e.Endpoint)
	if err != nil {
		return "", err
	}
	name, err := backend.DefaultBucketName(ctx, cfg, e.StateRegion())
	if err != nil {
		return "", err
	}
	e.bucket = name
	return name, nil
}

// KnownStateBucket is the state bucket's name when known without a cloud
// call (configured, or resolved earlier in this run); empty otherwise.
func (e *Env) KnownStateBucket() string {
	if e.Config.State.Bucket != "" {
		return e.Config.State.Bucket
	}
	return e.bucket
}

// AgentBinaries are the linux kforge binaries uploaded for the nodes, one
// per architecture the environment runs on (amd64, arm64), found in order:
// the --agent-binary files (comma-separated; each file's ELF header says its
// architecture), this executable when it is a linux binary, and
// kforge-linux-<arch> next to this executable (a release ships both; make
// build writes bin/kforge-linux-amd64 and bin/kforge-linux-arm64). A missing
// architecture is a usage error, before any cloud call.
func (e *Env) AgentBinaries() (map[string]string, error) {
	found := map[string]string{}
	if flag := e.opts.AgentBinary; flag != "" {
		for _, p := range strings.Split(flag, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			abs, err := filepath.Abs(p)
			if err != nil {
				return nil, err
			}
			arch, err := linuxBinaryArch(abs)
			if err != nil {
				return nil, UsageError("--agent-binary %s: %v", p, err)
			}
			if prev, dup := found[arch]; dup && prev != abs {
				return nil, UsageError("--agent-binary names two %s binaries (%s and %s): give one per architecture", arch, prev, p)
			}
			found[arch] = abs
		}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this executable: %w", err)
	}
	if runtime.GOOS == "linux" {
		if _, ok := found[runtime.GOARCH]; !ok {
			found[runtime.GOARCH] = self
		}
	}
	need := e.Config.AgentArchitectures()
	for _, arch := range need {
		if _, ok := found[arch]; ok {
			continue
		}
		sibling := filepath.Join(filepath.Dir(self), "kforge-linux-"+arch)
		if got, err := linuxBinaryArch(sibling); err == nil && got == arch {
			found[arch] = sibling
		}
	}
	out := make(map[string]string, len(need))
	var missing []string
	for _, arch := range need {
		if p, ok := found[arch]; ok {
			out[arch] = p
		} else {
			missing = append(missing, arch)
		}
	}
	if len(missing) > 0 {
		return nil, UsageError("environment %s runs nodes on %s and there is no linux kforge binary for %s: build it (make build writes bin/kforge-linux-amd64 and bin/kforge-linux-arm64; or CGO_ENABLED=0 GOOS=linux GOARCH=%s go build -o kforge-linux-%s ./cmd/kforge) and pass --agent-binary kforge-linux-%s (comma-separate several) or set KFORGE_AGENT_BINARY",
			e.Name, strings.Join(need, " and "), strings.Join(missing, " and "), missing[0], missing[0], missing[0])
	}
	return out, nil
}

// linuxBinaryArch returns the Go architecture of a linux executable.
func linuxBinaryArch(path string) (string, error) {
	if err := checkLinuxBinary(path); err != nil {
		return "", err
	}
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("not a linux executable: %w", err)
	}
	defer f.Close()
	switch f.Machine {
	case elf.EM_X86_64:
		return "amd64", nil
	case elf.EM_AARCH64:
		return "arm64", nil
	default:
		return "", fmt.Errorf("built for %s; nodes run amd64 or arm64", f.Machine)
	}
}

func checkLinuxBinary(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("not a linux executable: %w", err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("not an executable (ELF type %s)", f.Type)
	}
	return nil
}

// Runner stages the modules and variables into the work directory and
// returns a Terraform runner for the environment (no Terraform run yet).
func (e *Env) Runner(ctx context.Context) (*tfrun.Runner, error) {
	agents, err := e.AgentBinaries()
	if err != nil {
		return nil, err
	}
	for arch, path := range agents {
		if agents[arch], err = snapshotFile(path, filepath.Join(e.Dir, "agent", "kforge-node-"+arch)); err != nil {
			return nil, err
		}
	}
	tfvars, err := e.Config.TFVarsJSON(config.RenderOptions{AgentBinaryPaths: agents, EndpointURL: e.Endpoint, KforgeVersion: e.opts.Version})
	if err != nil {
		return nil, err
	}
	bucket, err := e.StateBucket(ctx)
	if err != nil {
		return nil, err
	}
	if e.Endpoint == "" {
		// On AWS, missing credentials are one plain error now rather than
		// Terraform's own at init (a configured state bucket needs no STS call).
		if _, err := e.AWSConfig(ctx); err != nil {
			return nil, err
		}
	}
	modules, err := fs.Sub(kforge.Terraform, "terraform")
	if err != nil {
		return nil, fmt.Errorf("reading embedded modules: %w", err)
	}
	env := []string{"TF_IN_AUTOMATION=1", "AWS_REGION=" + e.Config.Region}
	if e.Endpoint != "" {
		env = append(env,
			"AWS_ACCESS_KEY_ID="+awsx.TestAccessKeyID,
			"AWS_SECRET_ACCESS_KEY="+awsx.TestSecretAccessKey,
			"AWS_SESSION_TOKEN=",
			"AWS_PROFILE=",
			"AWS_EC2_METADATA_DISABLED=true",
		)
	}
	r, err := tfrun.New(ctx, tfrun.Options{
		WorkDir: e.Dir,
		Modules: modules,
		TFVars:  tfvars,
		Backend: tfrun.Backend{
			Bucket:   bucket,
			Key:      e.StateKey(),
			Region:   e.StateRegion(),
			Endpoint: e.Endpoint,
		},
		PluginDir: e.opts.PluginDir,
		Env:       env,
		EnvName:   e.Name,
	})
	if err == nil && r.FoundMirror != nil {
		e.opts.UI.Notef("Using the provider mirror %s (%s); remembered for %s. --plugin-dir chooses another.\n", r.FoundMirror.Dir, r.FoundMirror.From, e.Name)
	}
	return r, err
}

// Outputs reads the outputs of the environment's state (init first if needed).
func (e *Env) Outputs(ctx context.Context) (*Outputs, bool, error) {
	r, err := e.Runner(ctx)
	if err != nil {
		return nil, false, err
	}
	if err := r.Init(ctx, false); err != nil {
		return nil, false, err
	}
	raw, err := r.Outputs(ctx)
	if err != nil {
		return nil, false, err
	}
	out, ok, err := DecodeOutputs(raw)
	if err != nil {
		return nil, false, err
	}
	return &out, ok, nil
}

// AppliedOutputs is Outputs for a command that needs an applied cluster: it
// fails saying what to run when nothing is applied yet.
func (e *Env) AppliedOutputs(ctx context.Context) (*Outputs, error) {
	out, ok, err := e.Outputs(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, Failure("environment %q has no applied cluster (no outputs): run `kforge up %s` first", e.Name, e.Name)
	}
	return out, nil
}

// EmulatorNote reminds the user where a local cluster lives.
func (e *Env) EmulatorNote() string {
	switch {
	case e.Local && e.Emulator != nil:
		return fmt.Sprintf("Local emulator: moto_server pid %d at %s. Its data (this cluster and its state) lives only as long as that process: `kforge down %s` destroys the cluster and stops it; if it stops first, everything is gone.", e.Emulator.PID, e.Emulator.URL, e.Name)
	case e.Endpoint != "":
		return fmt.Sprintf("Endpoint %s (not managed by kforge): an emulator keeps its data only while its process runs.", e.Endpoint)
	}
	return ""
}
