package tfrun

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// After Ctrl-C the run says what happened to Terraform: stopped by itself
// (the state saved, the lock released), or killed when it did not stop
// within the wait (the state may lack what it was creating, the lock may
// be held). A stand-in terraform plays both: one that stops at SIGINT, and
// one that keeps working past the wait.
func TestInterruptedRunSaysWhetherTerraformStoppedOrWasKilled(t *testing.T) {
	for _, c := range []struct {
		name, onInterrupt, want string
	}{
		{"stops", "exit 1", "stopped cleanly"},
		{"killed", "exec sleep 5", "was killed after Ctrl-C"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bin := t.TempDir()
			script := "#!/bin/sh\n" +
				"if [ \"$1\" = version ]; then echo 'Terraform v1.11.4'; exit 0; fi\n" +
				"trap '" + c.onInterrupt + "' INT\n" +
				"while :; do sleep 0.1; done\n"
			if err := os.WriteFile(filepath.Join(bin, "terraform"), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
			r, err := New(context.Background(), Options{WorkDir: filepath.Join(t.TempDir(), "dev"),
				Modules: fstest.MapFS{"cluster/main.tf": {Data: []byte("")}}, EnvName: "dev"})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.tf.SetWaitDelay(time.Second); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(500*time.Millisecond, cancel)
			_, err = r.Plan(ctx, "kforge.tfplan", false)
			if !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("interrupted plan: %v, want %q", err, c.want)
			}
		})
	}
}
