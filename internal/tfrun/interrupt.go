package tfrun

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

// HandleInterrupts makes Ctrl-C polite while Terraform runs. The returned
// context is cancelled on the first SIGINT (or SIGTERM): terraform-exec then
// sends SIGINT to Terraform, which finishes the resources in flight, saves
// the state and releases the lock. The second Ctrl-C explains what insisting
// means; the third kills Terraform's process group (the lock then stays and
// `kforge unlock` releases it). Call stop when the run is over.
func HandleInterrupts(ctx context.Context, w io.Writer, envName string) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	sigs := make(chan os.Signal, 3)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		count := 0
		for {
			select {
			case <-done:
				return
			case <-sigs:
				count++
				switch count {
				case 1:
					fmt.Fprintf(w, "\nInterrupt received: asking Terraform to stop cleanly. It finishes the resources in progress, saves the state and releases the lock; this can take minutes (it is killed after %s).\n", StopWait)
					cancel()
				case 2:
					fmt.Fprintf(w, "\nTerraform is still stopping. Press Ctrl-C once more to kill it now: resources being created may then be missing from the state, and the state lock stays held until you run `kforge unlock %s <lock-id>` (the next run prints the id).\n", envName)
				default:
					n := killTerraform()
					fmt.Fprintf(w, "\nKilled %d Terraform process group(s). The state lock is still held: release it with `kforge unlock %s <lock-id>`.\n", n, envName)
				}
			}
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

// killTerraform SIGKILLs the process group of each direct child of this
// process that is terraform: terraform-exec starts Terraform in its own
// group, and its providers run in that group. Other children (a local
// emulator) are left alone.
func killTerraform() int {
	n := 0
	for _, pid := range childPIDs() {
		comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		if strings.TrimSpace(string(comm)) != "terraform" {
			continue
		}
		if syscall.Kill(-pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

func childPIDs() []int {
	var pids []int
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, t := range tasks {
		data, err := os.ReadFile("/proc/self/task/" + t.Name() + "/children")
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}
