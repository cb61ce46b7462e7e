package cli_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNoCredentials runs `kforge plan dev` on a machine with no AWS
// credentials: no environment variables, no shared files, and an instance
// metadata service that has no role (a loopback stand-in answering 404, as
// IMDS does off EC2 behind some proxies, which makes the SDK fall back to
// IMDSv1 and log a warning). kforge must say plainly what is missing and how
// to provide it, and let none of the SDK's own log lines through.
func TestNoCredentials(t *testing.T) {
	imds := httptest.NewServer(http.NotFoundHandler())
	defer imds.Close()
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kforgeBin, "--envs-dir", filepath.Join(repoRoot, "envs"), "--workdir", filepath.Join(home, ".kforge"), "plan", "dev")
	cmd.Dir = home
	cmd.Env = append(os.Environ(),
		"HOME="+home,
		"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=", "AWS_PROFILE=",
		"AWS_CONFIG_FILE="+filepath.Join(home, "no-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "no-credentials"),
		"AWS_EC2_METADATA_SERVICE_ENDPOINT="+imds.URL,
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=", "AWS_WEB_IDENTITY_TOKEN_FILE=",
		"KFORGE_ENDPOINT=",
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("plan dev without credentials: %v, want exit 1\nstderr:\n%s", err, stderr.String())
	}
	out := stderr.String()
	for _, want := range []string{
		"no AWS credentials were found",
		"AWS_PROFILE",                            // a profile
		"AWS_ACCESS_KEY_ID",                      // environment variables
		"aws sso login",                          // SSO
		"`kforge up local` needs no credentials", // the way to try kforge without an account
		"See docs/OPERATIONS.md.",                // not --help: the input was good
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stderr lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"SDK ", "WARN", "IMDSv1", "ec2imds", "GetCallerIdentity", "operation error"} {
		if strings.Contains(out, bad) {
			t.Errorf("stderr shows the SDK's text %q:\n%s", bad, out)
		}
	}
}
