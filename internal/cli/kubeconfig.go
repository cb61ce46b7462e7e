package cli

import (
	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/cluster"
)

func newKubeconfigCmd(app *App) *cobra.Command {
	var file string
	var private bool
	var tunnelPort int
	cmd := &cobra.Command{
		Use:   "kubeconfig <env>",
		Short: "Write the cluster's admin kubeconfig (fetched from the certs bucket with your AWS credentials) with mode 0600",
		Long: "Fetches controller/admin.conf, which the control plane backs up to the certs bucket under KMS,\n" +
			"using your own AWS credentials (you need s3:GetObject on that prefix and kms:Decrypt on the key).\n" +
			"When the control plane has a public address, the server is set to it with tls-server-name\n" +
			"api.<domain>, because api.<domain> resolves to the private address nodes use; the API is reachable\n" +
			"only from admin_cidrs. The credential is the long-lived kubeadm admin certificate: keep the file private.\n" +
			"A private control plane (no public address, as in prod) is reached through an SSM port forward:\n" +
			"--tunnel-port N points the server at https://127.0.0.1:N with tls-server-name api.<domain>; start\n" +
			"the forward through a worker, which outlives a control-plane replacement: `aws ssm start-session --target\n" +
			"<worker instance> --document-name AWS-StartPortForwardingSessionToRemoteHost --parameters\n" +
			"host=api.<domain>,portNumber=6443,localPortNumber=N` (docs/NODES.md).",
		Args: envArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			server := cluster.KubeconfigServer{Private: private, Tunnel: cmd.Flags().Changed("tunnel-port"), TunnelPort: tunnelPort}
			if err := server.Validate(); err != nil {
				return err
			}
			e, err := app.OpenEnv(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			res, err := cluster.RunKubeconfig(cmd.Context(), e, cluster.KubeconfigOptions{Server: server, File: file})
			if err != nil {
				return err
			}
			if app.JSON() {
				return app.PrintJSON(res)
			}
			app.Printf("%s\n", res.File)
			app.Notef("export KUBECONFIG=%s\n", res.File)
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "where to write the kubeconfig (default <workdir>/<env>/admin.conf)")
	cmd.Flags().BoolVar(&private, "private", false, "keep the server at https://api.<domain>:6443 (from inside the VPC or over a VPN)")
	cmd.Flags().IntVar(&tunnelPort, "tunnel-port", 0, "point the server at https://127.0.0.1:<port> (an SSM port forward through a worker to api.<domain>:6443), verifying TLS against api.<domain>")
	return cmd
}
