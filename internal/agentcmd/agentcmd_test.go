package agentcmd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/cli"
	"github.com/kforge/kforge/internal/localaws"
	"github.com/kforge/kforge/internal/localaws/localawstest"
	"github.com/kforge/kforge/internal/node"
)

func runNodeCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	code, stderr, _ := runNodeCLIOn(t, &dirHost{root: t.TempDir()}, args...)
	return code, stderr
}

func runNodeCLIOn(t *testing.T, h *dirHost, args ...string) (int, string, *dirHost) {
	t.Helper()
	var out, errb bytes.Buffer
	app := &cli.App{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Output: "text", WorkDir: t.TempDir(),
		NodeHost:    h,
		NodeBackoff: &node.Backoff{Initial: time.Millisecond, Sleep: func(context.Context, time.Duration) error { return nil }}}
	code := cli.Execute(context.Background(), app, args)
	return code, errb.String(), h
}

// dirHost keeps the agent's files under a temporary root and runs nothing
// but `rm -f`: systemctl is only recorded, so a test can never touch this
// machine (or power it off).
type dirHost struct {
	root string
	ran  []string
}

func (h *dirHost) path(p string) string { return filepath.Join(h.root, filepath.FromSlash(p)) }

func (h *dirHost) Run(_ context.Context, c node.Command) (string, error) {
	h.ran = append(h.ran, c.String())
	if c.Name == "rm" && len(c.Args) == 2 && c.Args[0] == "-f" {
		if err := os.Remove(h.path(c.Args[1])); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		return "", nil
	}
	if c.Name == "systemctl" {
		return "", nil
	}
	return "", fmt.Errorf("dirHost runs no programs (asked for %s)", c)
}

func (h *dirHost) WriteFile(p string, data []byte, perm fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(h.path(p)), 0o755); err != nil {
		return err
	}
	return os.WriteFile(h.path(p), data, perm)
}

func (h *dirHost) ReadFile(p string) ([]byte, error) { return os.ReadFile(h.path(p)) }

func (h *dirHost) Open(p string) (io.ReadSeekCloser, error) { return os.Open(h.path(p)) }

func (h *dirHost) Create(p string, perm fs.FileMode) (io.WriteCloser, error) {
	if err := os.MkdirAll(filepath.Dir(h.path(p)), 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(h.path(p), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
}

func TestNodeCommandsRejectBadFlagsBeforeAnyCloudCall(t *testing.T) {
	emu := localawstest.StartForTest(t)
	before, err := localaws.Requests(context.Background(), emu.URL())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown role", []string{"node", "bootstrap", "--role", "master", "--bucket", "b", "--region", "eu-west-1"}, "--role must be"},
		{"worker without pool", []string{"node", "bootstrap", "--role", "worker", "--bucket", "b", "--region", "eu-west-1"}, "--pool is required"},
		{"controller with pool", []string{"node", "bootstrap", "--role", "controller", "--pool", "x", "--bucket", "b", "--region", "eu-west-1"}, "--pool is for workers"},
		{"no bucket", []string{"node", "refresh-token", "--region", "eu-west-1"}, "--bucket is required"},
		{"no region", []string{"node", "backup", "--bucket", "b"}, "--region is required"},
		{"install-units without role", []string{"node", "install-units", "--bucket", "b", "--region", "eu-west-1"}, "--role must be"},
		{"addons without bucket", []string{"node", "addons", "--region", "eu-west-1"}, "--bucket is required"},
		{"drain-events without region", []string{"node", "drain-events", "--bucket", "b"}, "--region is required"},
		{"drain-events without kubeconfig", []string{"node", "drain-events", "--bucket", "b", "--region", "eu-west-1", "--kubeconfig", ""}, "--kubeconfig must not be empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr := runNodeCLI(t, append([]string{"--endpoint", emu.URL()}, tc.args...)...)
			if code != cli.ExitUsage || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
		})
	}
	after, err := localaws.Requests(context.Background(), emu.URL())
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("bad flags made %d cloud calls", after-before)
	}
}

func TestNodeBootstrapNamesAMissingClusterConfig(t *testing.T) {
	cfg, emu := localawstest.ConfigForTest(t, "eu-west-1")
	ctx := context.Background()
	if _, err := awsx.S3Client(cfg, emu.URL()).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("demo-certs"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: "eu-west-1"}}); err != nil {
		t.Fatal(err)
	}
	code, stderr := runNodeCLI(t, "--endpoint", emu.URL(), "node", "bootstrap", "--role", "controller", "--bucket", "demo-certs", "--region", "eu-west-1")
	if code != cli.ExitFailure || !strings.Contains(stderr, "s3://demo-certs/bootstrap/cluster.json is missing") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// User data installs the units without any cloud call, then starts the
// bootstrap unit, which owns the retries.
func TestNodeInstallUnitsWritesEnvAndEnablesTheBootstrapUnit(t *testing.T) {
	h := &dirHost{root: t.TempDir()}
	code, stderr, _ := runNodeCLIOn(t, h, "--endpoint", "http://127.0.0.1:1", "node", "install-units",
		"--role", "worker", "--pool", "general", "--bucket", "demo-certs", "--region", "eu-west-1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	env, err := h.ReadFile("/etc/kforge/node.env")
	if err != nil || !strings.Contains(string(env), "KFORGE_ROLE=worker\nKFORGE_POOL=general\n") {
		t.Errorf("node.env %q: %v", env, err)
	}
	for _, unit := range []string{"kforge-bootstrap.service", "kforge-addons.timer"} {
		if _, err := h.ReadFile("/etc/systemd/system/" + unit); err != nil {
			t.Errorf("%s not installed: %v", unit, err)
		}
	}
	if strings.Join(h.ran, "|") != "systemctl daemon-reload|systemctl enable kforge-bootstrap.service" {
		t.Errorf("ran %q", h.ran)
	}
}

// A failed attempt is counted (for the backoff) and, on an instance set up
// by user data that is past the ready deadline, powers it off.
func TestNodeBootstrapFailureCountsAndPowersOffAfterTheDeadline(t *testing.T) {
	h := &dirHost{root: t.TempDir()}
	args := []string{"--endpoint", "http://127.0.0.1:1", "node", "bootstrap", "--role", "controller", "--bucket", "demo-certs", "--region", "eu-west-1"}
	if err := h.WriteFile("/proc/uptime", []byte("7200.00 100.00\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	code, stderr, _ := runNodeCLIOn(t, h, args...)
	if code != cli.ExitFailure {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if n, _ := h.ReadFile("/run/kforge/bootstrap-failures"); string(n) != "1\n" {
		t.Errorf("failure count %q", n)
	}
	if len(h.ran) != 0 {
		t.Errorf("a machine without node.env ran %q", h.ran)
	}
	if err := h.WriteFile("/etc/kforge/node.env", []byte("KFORGE_ROLE=controller\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, stderr, _ = runNodeCLIOn(t, h, args...); code != cli.ExitFailure || !strings.Contains(stderr, "powering off") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Join(h.ran, "|") != "systemctl poweroff" {
		t.Errorf("ran %q", h.ran)
	}
}
