package cli

import (
	"strings"

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
			e, err := app.openEnv(cmd.Context(), args[0], cluster.StartEmulator)
			if err != nil {
				return err
			}
			res, err := cluster.RunInit(cmd.Context(), e)
			if err != nil {
				return err
			}
			if app.JSON() {
				return app.PrintJSON(res)
			}
			verb := "exists"
			if res.Created {
				verb = "created"
			}
			app.Printf("State bucket %s %s (%v).\n", res.Bucket, verb, strings.Join(res.Settings, ", "))
			for _, n := range res.Notes {
				app.Printf("Note: %s\n", n)
			}
			app.Printf("State: s3://%s/%s (lock file next to it).\n", res.Bucket, res.Key)
			app.Printf("Terraform %s initialised in %s.\n", res.Terraform, res.WorkDir)
			if note := e.EmulatorNote(); note != "" {
				app.Printf("%s\n", note)
			}
			return nil
		},
	}
}
