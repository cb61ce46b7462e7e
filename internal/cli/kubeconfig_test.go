package cli

import (
	"strings"
	"testing"
)

func TestKubeconfigTunnelFlagsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{"kubeconfig", "prod", "--tunnel-port", "6443", "--private"},
		{"kubeconfig", "prod", "--tunnel-port", "0"},
	} {
		if code, _, stderr := runCLI(t, args...); code != ExitUsage || !strings.Contains(stderr, "tunnel-port") {
			t.Errorf("%v: exit %d, stderr %q; want 2 naming --tunnel-port", args, code, stderr)
		}
	}
}
