package cli

import (
	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/cluster"
)

func newInitCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "init <env>",
		Short: "Create the state bucket if missing and run terraform init with the S3 backend",
		Long: `Create the environment's Terraform state bucket if it is missing (versioning,
default encryption, all public-access blocks, bucket-owner-enforced ownership,
a TLS-only bucket policy except on an emulator), stage the embedded modules
into .kforge/<env>/terraform and run terraform init with the S3 backend and
use_lockfile = true. Running it again changes nothing.`,
		Args: envArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			e, err := app.openEnv(ctx, args[0], cluster.StartEmulator)
			if err != nil {
				return err
			}
			res, err := e.EnsureStateBucket(ctx)
			if err != nil {
				return err
			}
			r, err := e.Runner(ctx)
			if err != nil {
				return err
			}
			if err := r.Init(ctx, true); err != nil {
				return err
			}
			result := struct {
				Env        string   `json:"environment"`
				Bucket     string   `json:"state_bucket"`
				Key        string   `json:"state_key"`
				Created    bool     `json:"bucket_created"`
				Settings   []string `json:"bucket_settings"`
				Notes      []string `json:"notes,omitempty"`
				WorkDir    string   `json:"workdir"`
				Terraform  string   `json:"terraform_version"`
				Endpoint   string   `json:"endpoint,omitempty"`
				EmulatorPI int      `json:"emulator_pid,omitempty"`
			}{
				Env: e.Name, Bucket: res.Bucket, Key: e.StateKey(), Created: res.Created, Settings: res.Applied,
				Notes: res.Notes, WorkDir: r.Dir(), Terraform: r.Version, Endpoint: e.Endpoint,
			}
			if e.Emulator != nil {
				result.EmulatorPI = e.Emulator.PID
			}
			if app.JSON() {
				return app.PrintJSON(result)
			}
			verb := "exists"
			if res.Created {
				verb = "created"
			}
			app.Printf("State bucket %s %s (%v).\n", res.Bucket, verb, joinList(res.Applied))
			for _, n := range res.Notes {
				app.Printf("Note: %s\n", n)
			}
			app.Printf("State: s3://%s/%s (lock file next to it).\n", res.Bucket, e.StateKey())
			app.Printf("Terraform %s initialised in %s.\n", r.Version, r.Dir())
			if note := e.EmulatorNote(); note != "" {
				app.Printf("%s\n", note)
			}
			return nil
		},
	}
}

func joinList(items []string) string {
	s := ""
	for i, it := range items {
		if i > 0 {
			s += ", "
		}
		s += it
	}
	return s
}
