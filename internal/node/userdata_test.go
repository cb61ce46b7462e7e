package node

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kforge/kforge/internal/testutil/golden"
)

// renderUserData renders the root module's user-data template with
// Terraform's own templatefile(), offline (no provider), in a temp dir.
func renderUserData(t *testing.T, role, pool string) []byte {
	t.Helper()
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("skipping: terraform is not installed")
	}
	tmpl, err := filepath.Abs("../../terraform/cluster/templates/user-data.sh.tftpl")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	main := `output "user_data" {
  value = templatefile("` + filepath.ToSlash(tmpl) + `", {
    region       = "eu-west-1"
    bucket       = "demo-dev-certs-0123456789ab"
    agents = {
      amd64 = { machine = "x86_64", key = "bootstrap/kforge-node-amd64", version = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", sha256 = "` + strings.Repeat("ab", 32) + `" }
      arm64 = { machine = "aarch64", key = "bootstrap/kforge-node-arm64", version = "", sha256 = "` + strings.Repeat("cd", 32) + `" }
    }
    config_key   = "bootstrap/cluster.json"
    kubernetes_version = "1.36.6"
    etcd_quota_gib = 3
    role         = "` + role + `"
    pool         = "` + pool + `"
    pool_settings = "` + poolSettings(role) + `"
  })
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-input=false", "-no-color"}, {"apply", "-auto-approve", "-input=false", "-no-color"}} {
		cmd := exec.Command("terraform", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("terraform %s: %v\n%s", args[0], err, out)
		}
	}
	cmd := exec.Command("terraform", "output", "-raw", "user_data")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("terraform output: %v", err)
	}
	return out
}

// unitsLine is the user data's one role-specific line pair.
func unitsLine(role, pool string) string {
	return "\"$agent\" node install-units \\\n  --role \"" + role + "\" \\\n  --pool \"" + pool + "\""
}

// poolSettings is the digest of a worker pool's labels and taints that
// its user data names (terraform/cluster/bootstrap.tf), none for the
// control plane.
func poolSettings(role string) string {
	if role == "worker" {
		return "0123456789abcdef"
	}
	return ""
}

// workerLines are what a worker's user data names after the Kubernetes
// version's comment instead of controllerLines: the digest of its pool's
// labels and taints, which kubeadm join applies, so that a change of them
// makes a new launch template version of that pool.
const workerLines = "# Pool labels and taints 0123456789abcdef: set by kubeadm join, so a digest\n# of them is named here for the same reason (`kforge roll --pool`).\n"

// controllerLines are what the controller's user data names after the
// Kubernetes version's comment: etcd's quota, which only the control plane
// applies, so that a change of it makes a new launch template version of
// the control plane alone.
const controllerLines = "# etcd quota 3 GiB: applied by kubeadm init, so named here for\n# the same reason (`kforge roll --control-plane`).\n"

// versionComment ends the comment the controller's lines follow.
const versionComment = "(and `kforge upgrade`) then replaces.\n"

// TestUserDataGoldenAndShellcheck checks the worker's user data against its
// golden file, and the controller's against the same file with the units
// line naming its role and etcd's quota named in place of the pool's digest:
// the two must not differ anywhere else.
func TestUserDataGoldenAndShellcheck(t *testing.T) {
	const goldenPath = "testdata/user-data-worker.sh"
	for _, tc := range []struct{ role, pool string }{
		{"worker", "general"},
		{"controller", ""},
	} {
		t.Run(tc.role, func(t *testing.T) {
			out := renderUserData(t, tc.role, tc.pool)
			if len(out) > 4096 {
				t.Errorf("user data is %d bytes; keep it far under the 16 KB limit", len(out))
			}
			for _, word := range []string{"token", "BEGIN", "PRIVATE"} {
				if bytes.Contains(bytes.ToLower(out), []byte(strings.ToLower(word))) {
					t.Errorf("user data mentions %q; it must carry no secret", word)
				}
			}
			want := unitsLine(tc.role, tc.pool)
			if !bytes.Contains(out, []byte(want)) {
				t.Errorf("user data does not install the units with %s", want)
			}
			// The unit owns the bootstrap and its retries: user data must
			// start it (without waiting: cloud-final need not wait for it),
			// never run the bootstrap itself, which nothing would retry.
			if !bytes.Contains(out, []byte("\nsystemctl start --no-block kforge-bootstrap.service\n")) {
				t.Error("user data does not start kforge-bootstrap.service with --no-block")
			}
			if bytes.Contains(out, []byte("node bootstrap")) {
				t.Error("user data runs the bootstrap directly; a failure there is never retried")
			}
			if tc.role == "worker" {
				golden.Assert(t, goldenPath, out)
			} else {
				worker, err := os.ReadFile(goldenPath)
				if err != nil {
					t.Fatal(err)
				}
				expected := bytes.Replace(worker, []byte(unitsLine("worker", "general")), []byte(want), 1)
				expected = bytes.Replace(expected, []byte(versionComment+workerLines), []byte(versionComment+controllerLines), 1)
				if !bytes.Equal(out, expected) {
					t.Errorf("the controller's user data differs from %s in more than its role:\n%s", goldenPath, out)
				}
			}
			if _, err := exec.LookPath("shellcheck"); err != nil {
				t.Log("shellcheck not installed (apt-get install -y shellcheck); skipping the lint of the rendered user data")
				return
			}
			sc := exec.Command("shellcheck", "--shell=bash", "-")
			sc.Stdin = bytes.NewReader(out)
			if res, err := sc.CombinedOutput(); err != nil {
				t.Errorf("shellcheck: %v\n%s", err, res)
			}
		})
	}
}
