package cluster

import "context"

// InitResult is what `kforge init` did.
type InitResult struct {
	Env         string   `json:"environment"`
	Bucket      string   `json:"state_bucket"`
	Key         string   `json:"state_key"`
	Created     bool     `json:"bucket_created"`
	Settings    []string `json:"bucket_settings"`
	Notes       []string `json:"notes,omitempty"`
	WorkDir     string   `json:"workdir"`
	Terraform   string   `json:"terraform_version"`
	Endpoint    string   `json:"endpoint,omitempty"`
	EmulatorPID int      `json:"emulator_pid,omitempty"`
}

// RunInit creates the environment's state bucket if it is missing (and
// applies its settings), stages the embedded modules and runs terraform
// init with the S3 backend. Running it again changes nothing.
func RunInit(ctx context.Context, e *Env) (*InitResult, error) {
	if err := e.checkLocal(ctx); err != nil {
		return nil, err
	}
	res, err := e.EnsureStateBucket(ctx)
	if err != nil {
		return nil, err
	}
	r, err := e.Runner(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.Init(ctx, true); err != nil {
		return nil, err
	}
	out := &InitResult{Env: e.Name, Bucket: res.Bucket, Key: e.StateKey(), Created: res.Created, Settings: res.Applied,
		Notes: res.Notes, WorkDir: r.Dir(), Terraform: r.Version, Endpoint: e.Endpoint}
	if e.Emulator != nil {
		out.EmulatorPID = e.Emulator.PID
	}
	return out, nil
}
