package cli

import (
	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/cluster"
)

func newVersionCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print kforge's version, and Terraform's when found",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := cluster.RunVersion(cmd.Context(), Version)
			if app.JSON() {
				return app.PrintJSON(v)
			}
			app.Printf("kforge %s (%s, %s)\n", v.Version, v.GoVersion, v.Platform)
			if v.Terraform != "" {
				app.Printf("terraform %s\n", v.Terraform)
			} else {
				app.Printf("terraform: %s\n", v.TFError)
			}
			return nil
		},
	}
}

func newCompletionCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:       "completion bash|zsh|fish|powershell",
		Short:     "Print a shell completion script",
		Long:      "Print a shell completion script. For bash: source <(kforge completion bash)",
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(app.Stdout, true)
			case "zsh":
				return root.GenZshCompletion(app.Stdout)
			case "fish":
				return root.GenFishCompletion(app.Stdout, true)
			default:
				return root.GenPowerShellCompletionWithDesc(app.Stdout)
			}
		},
	}
}
