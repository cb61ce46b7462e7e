package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// openTerminal opens a pseudo-terminal: the person's side (what kforge
// reads as its stdin) and the side that types into it.
func openTerminal(t *testing.T) (tty, keyboard *os.File) {
	t.Helper()
	keyboard, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("SKIP (not a pass): no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { keyboard.Close() })
	if err := unix.IoctlSetPointerInt(int(keyboard.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(keyboard.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("numbering the pseudo-terminal: %v", err)
	}
	if tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0); err != nil {
		t.Fatalf("opening the pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return tty, keyboard
}

// At a terminal, Confirm takes the typed answer, and Ctrl-C (the
// command's context ending) stops it at once with exit code 130, whether
// or not anybody ever presses Enter: a prompt that holds the state lock
// must not outlive the run's interruption.
func TestConfirmAtATerminal(t *testing.T) {
	tty, keyboard := openTerminal(t)
	app := &App{Stdin: tty, Stderr: &bytes.Buffer{}}
	if _, err := keyboard.WriteString("yes\n"); err != nil {
		t.Fatal(err)
	}
	if err := app.Confirm(context.Background(), "do it", "yes"); err != nil {
		t.Errorf("Confirm answered yes = %v, want nil", err)
	}

	tty, _ = openTerminal(t)
	app.Stdin = tty
	ctx, interrupt := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Confirm(ctx, "do it", "yes") }()
	interrupt()
	if err := <-done; ExitCode(err) != ExitInterrupted {
		t.Errorf("Confirm interrupted = %v (exit %d), want exit %d", err, ExitCode(err), ExitInterrupted)
	}
}
