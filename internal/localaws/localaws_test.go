package localaws_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/localaws"
	"github.com/kforge/kforge/internal/localaws/localawstest"
)

func TestStartCountsRequestsAndStops(t *testing.T) {
	ctx := context.Background()
	e := localawstest.StartForTest(t)
	if !strings.HasPrefix(e.URL(), "http://127.0.0.1:") {
		t.Fatalf("URL = %q, want a loopback URL", e.URL())
	}
	if !localaws.Answers(ctx, e.URL()) {
		t.Fatalf("emulator at %s does not answer", e.URL())
	}

	n, err := localaws.Requests(ctx, e.URL())
	if err != nil {
		t.Fatalf("Requests: %v", err)
	}
	if n != 0 {
		t.Fatalf("Requests before any AWS call = %d, want 0 (probes must not count)", n)
	}

	cfg, err := awsx.Config(ctx, "eu-west-1", e.URL())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
			t.Fatalf("GetCallerIdentity against the emulator: %v", err)
		}
	}
	n, err = localaws.Requests(ctx, e.URL())
	if err != nil {
		t.Fatalf("Requests: %v", err)
	}
	if n != 3 {
		t.Fatalf("Requests after 3 calls = %d, want 3", n)
	}

	pid := e.PID()
	if err := e.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if localaws.Alive(pid) {
		t.Fatalf("emulator pid %d still alive after Stop", pid)
	}
	if localaws.Answers(ctx, e.URL()) {
		t.Fatalf("emulator still answers after Stop")
	}
}

func TestDetachedStopByPID(t *testing.T) {
	ctx := context.Background()
	e, err := localaws.Start(ctx, localaws.Options{Detach: true, NoRecording: true, LogPath: t.TempDir() + "/moto.log"})
	if errors.Is(err, localaws.ErrNotInstalled) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := localaws.Requests(ctx, e.URL()); err == nil {
		t.Errorf("Requests with recording off: want an error, got none")
	}
	if err := localaws.StopPID(e.PID()); err != nil {
		t.Fatalf("StopPID: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for localaws.Answers(ctx, e.URL()) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if localaws.Answers(ctx, e.URL()) {
		t.Fatalf("detached emulator still answers after StopPID")
	}
	if err := localaws.StopPID(e.PID()); err != nil {
		t.Errorf("StopPID of a stopped emulator: %v, want nil", err)
	}
}

func TestMissingBinary(t *testing.T) {
	_, err := localaws.Start(context.Background(), localaws.Options{Binary: "moto_server_does_not_exist"})
	if !errors.Is(err, localaws.ErrNotInstalled) {
		t.Fatalf("err = %v, want ErrNotInstalled", err)
	}
	if !strings.Contains(err.Error(), "pip install 'moto[server]'") {
		t.Fatalf("error %q lacks the install hint", err)
	}
}

func TestBinaryThatExitsEarly(t *testing.T) {
	_, err := localaws.Start(context.Background(), localaws.Options{Binary: "false"})
	if err == nil || !strings.Contains(err.Error(), "exited before answering") {
		t.Fatalf("err = %v, want an early-exit error", err)
	}
}

// TestStartReadsThePortFromThisRunOnly: a log file kept across runs (local
// mode's) holds an earlier emulator's listening line, and something else
// answers the emulator's probe on that port. The new emulator must take the
// port its own process reports, not the stale one.
func TestStartReadsThePortFromThisRunOnly(t *testing.T) {
	stale := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer stale.Close()
	logPath := filepath.Join(t.TempDir(), "moto.log")
	earlier := " * Running on " + stale.URL + "\n"
	if err := os.WriteFile(logPath, []byte(earlier), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := localaws.Start(context.Background(), localaws.Options{LogPath: logPath, NoRecording: true})
	if errors.Is(err, localaws.ErrNotInstalled) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	if e.URL() == stale.URL {
		t.Fatalf("URL = %s, the port an earlier run logged", e.URL())
	}
	if _, err := localaws.Requests(context.Background(), e.URL()); err == nil {
		t.Errorf("Requests with recording off answered: %s is not this emulator", e.URL())
	}
}

// TestBinaryThatNeverListens: a process that runs without logging a port
// is reported as such, not probed on a guessed one.
func TestBinaryThatNeverListens(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "silent")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := localaws.Start(ctx, localaws.Options{Binary: bin, NoRecording: true})
	if err == nil || !strings.Contains(err.Error(), "did not log the port") {
		t.Fatalf("err = %v, want the missing port named", err)
	}
}
