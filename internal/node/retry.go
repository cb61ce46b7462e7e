package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

const (
	// failuresFile counts the failed bootstrap attempts of this boot
	// (/run is a tmpfs, so a reboot starts the backoff again).
	failuresFile = "/run/kforge/bootstrap-failures"
	// readyMarker is written when the bootstrap finished once on this
	// instance; from then on the instance is never powered off for failing.
	readyMarker = stateDir + "/node-ready"
	// ReadyDeadline is how long after boot an instance may keep failing its
	// first bootstrap before it powers off so its Auto Scaling group, whose
	// EC2 health check treats a stopped instance as unhealthy, replaces it.
	ReadyDeadline = 30 * time.Minute
)

// BootstrapBackoff is the wait after a failed bootstrap attempt, before
// the process exits and systemd (RestartSec=) starts the next one. systemd
// 252 (Amazon Linux 2023) has no RestartSteps=/RestartMaxDelaySec= (254),
// so the agent grows the delay itself.
var BootstrapBackoff = Backoff{Initial: 30 * time.Second, Max: 10 * time.Minute}

// Attempt runs one bootstrap attempt under the bootstrap unit's retry
// policy: on success it resets the failure count; on failure it counts it,
// powers the instance off if it never became ready within ReadyDeadline of
// boot, and otherwise waits the backoff for this attempt before returning
// the error (systemd then restarts the unit).
func Attempt(ctx context.Context, h Host, log *slog.Logger, bo Backoff, run func(context.Context) error) error {
	err := run(ctx)
	if err == nil {
		_, rmErr := h.Run(ctx, Cmd("rm", "-f", failuresFile))
		return rmErr
	}
	n := failureCount(h) + 1
	if werr := h.WriteFile(failuresFile, []byte(strconv.Itoa(n)+"\n"), 0o644); werr != nil {
		log.Warn("recording the failed attempt", "error", werr.Error())
	}
	// Only an instance set up by user data (node.env exists) that never
	// became ready is powered off; never a machine the agent was merely run
	// on, nor a control plane past kubeadm init: it serves the API, and its
	// etcd may hold writes newer than the last backup, which a replacement
	// (restoring that backup, and likely failing as it does: an AWS outage,
	// a lost zone's Nodes) would drop. It keeps retrying its later phases.
	if Exists(h, envFile) && !Exists(h, readyMarker) && !Exists(h, kubeadmInitMarker) {
		up, uerr := uptime(h)
		switch {
		case uerr != nil:
			log.Warn("reading the uptime; not applying the ready deadline", "error", uerr.Error())
		case up >= ReadyDeadline:
			log.Error("no ready node within the deadline; powering off so the Auto Scaling group replaces this instance",
				"deadline", ReadyDeadline.String(), "uptime", up.Truncate(time.Second).String(), "attempts", n, "error", err.Error())
			if _, perr := h.Run(ctx, Cmd("systemctl", "poweroff")); perr != nil {
				return errors.Join(err, fmt.Errorf("powering off: %w", perr))
			}
			return err
		}
	}
	delay := bo.delay(n)
	log.Error("bootstrap attempt failed; systemd starts the next one after the backoff",
		"attempt", n, "retry_in", delay.String(), "error", err.Error())
	if serr := bo.sleep(ctx, delay); serr != nil {
		return errors.Join(err, serr)
	}
	return err
}

// delay is the wait after the n-th consecutive failure: Initial doubling
// up to Max.
func (b Backoff) delay(n int) time.Duration {
	d := b.Initial
	if d <= 0 {
		d = 5 * time.Second
	}
	for i := 1; i < n && (b.Max <= 0 || d < b.Max); i++ {
		d *= 2
	}
	if b.Max > 0 && d > b.Max {
		d = b.Max
	}
	return d
}

func failureCount(h Host) int {
	raw, err := h.ReadFile(failuresFile)
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// userHZ is the unit of /proc/<pid>/stat times (USER_HZ, 100 on every
// Linux architecture kforge runs on).
const userHZ = 100

// uptime is the time since this system's init started: the kernel's uptime
// (/proc/uptime) less the start of PID 1 (/proc/1/stat field 22, in clock
// ticks since the kernel booted). On an instance the two differ by the
// kernel's own few seconds; on a system sharing a kernel that booted long
// before it (a lab node in a container) only the second is its age. Without
// a readable /proc/1/stat the kernel's uptime is used.
func uptime(h Host) (time.Duration, error) {
	up, err := kernelUptime(h)
	if err != nil {
		return 0, err
	}
	raw, err := h.ReadFile("/proc/1/stat")
	if err != nil {
		return up, nil
	}
	// The command name (field 2) may hold spaces; fields after its ")" are
	// 3 onwards, so starttime (22) is the 20th of them.
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndex(s, ")")+1:])
	if len(fields) < 20 {
		return up, nil
	}
	ticks, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return up, nil
	}
	if start := time.Duration(ticks) * time.Second / userHZ; start < up {
		return up - start, nil
	}
	return up, nil
}

// kernelUptime reads the time since the kernel booted from /proc/uptime.
func kernelUptime(h Host) (time.Duration, error) {
	raw, err := h.ReadFile("/proc/uptime")
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(string(raw))
	if len(fields) == 0 {
		return 0, fmt.Errorf("/proc/uptime is empty")
	}
	secs, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/uptime: %w", err)
	}
	return time.Duration(secs * float64(time.Second)), nil
}
