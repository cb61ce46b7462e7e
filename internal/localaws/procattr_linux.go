package localaws

import "syscall"

// procAttr puts the emulator in a process group of its own (a session when
// detached) so Stop reaches every child and a terminal's Ctrl-C does not
// reach a detached emulator. An attached emulator also gets SIGKILL when
// its parent dies, so a test binary killed by `go test -timeout` (whose
// cleanups never run) or a crashed kforge leaves no emulator behind.
func procAttr(detach bool) *syscall.SysProcAttr {
	if detach {
		return &syscall.SysProcAttr{Setsid: true}
	}
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
