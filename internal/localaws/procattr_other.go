//go:build !linux

package localaws

import "syscall"

// procAttr puts the emulator in a process group of its own (a session when
// detached) so Stop reaches every child and a terminal's Ctrl-C does not
// reach a detached emulator. Only Linux can also tie an attached emulator's
// life to its parent's.
func procAttr(detach bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: !detach, Setsid: detach}
}
