package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Service is a host program running inside a lab network namespace (the
// emulator, an instance's metadata service). Only its sockets are in the
// lab; the process itself is invisible to the instances.
type Service struct {
	Name string
	Log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartService runs prog with args inside namespace ns, its output in log.
func StartService(ns, name, log string, env []string, prog string, args ...string) (*Service, error) {
	path, err := exec.LookPath(prog)
	if err != nil {
		return nil, fmt.Errorf("lab service %s: %w", name, err)
	}
	out, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lab service %s: %w", name, err)
	}
	defer out.Close()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, path}, args...)...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting lab service %s: %w", name, err)
	}
	s := &Service{Name: name, Log: log, cmd: cmd, done: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	return s, nil
}

// Exited reports whether the service has stopped, and how.
func (s *Service) Exited() (bool, error) {
	select {
	case <-s.done:
		return true, s.err
	default:
		return false, nil
	}
}

// Stop ends the service's process group: SIGTERM, then SIGKILL after 5 s.
func (s *Service) Stop(ctx context.Context) error {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	case <-ctx.Done():
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	return nil
}
