package localaws_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kforge/kforge/internal/localaws"
)

// childEnv makes the test binary, run again, start an emulator, print its
// pid and wait to be killed.
const childEnv = "KFORGE_LOCALAWS_PARENT_DEATH_CHILD"

// TestEmulatorDiesWithItsParent kills, with SIGKILL, a process that started
// an emulator, as `go test -timeout` kills a test binary whose cleanups then
// never run: the emulator must not outlive it.
func TestEmulatorDiesWithItsParent(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		e, err := localaws.Start(context.Background(), localaws.Options{NoRecording: true})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(e.PID())
		time.Sleep(time.Hour)
		return
	}
	if _, err := exec.LookPath("moto_server"); err != nil {
		t.Skip("skipping: moto_server is not installed")
	}
	child := exec.Command(os.Args[0], "-test.run=^TestEmulatorDiesWithItsParent$")
	child.Env = append(os.Environ(), childEnv+"=1")
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = child.Process.Kill()
		t.Fatalf("reading the emulator's pid from the child: %v (%q)", err, line)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		_ = child.Process.Kill()
		t.Fatalf("the child did not start an emulator: %q", line)
	}
	t.Cleanup(func() { _ = localaws.StopPID(pid) })
	if !localaws.Alive(pid) {
		t.Fatalf("emulator pid %d is not running while its parent lives", pid)
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for localaws.Alive(pid) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if localaws.Alive(pid) {
		t.Fatalf("emulator pid %d outlived its parent, killed with SIGKILL", pid)
	}
}
