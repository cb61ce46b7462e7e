package lab

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// faultFor is how long the emulator is unreachable from the faulted node,
// counted from its instance's launch.
const faultFor = 60 * time.Second

// s3Unreachable makes the emulator refuse connections from inside one
// node's network namespace only (a TCP reset, as a refused connection to
// an unavailable endpoint). The emulator serves every AWS service on one
// address, and in a worker's first minute S3 (the agent's download) is
// the only service it calls.
type s3Unreachable struct {
	host, port string
	mu         sync.Mutex
	netns      string
	launched   time.Time
}

func (f *s3Unreachable) rule(op string) []string {
	return []string{"--net=" + f.netns, "iptables", "-w", op, "OUTPUT", "-p", "tcp", "-d", f.host, "--dport", f.port,
		"-j", "REJECT", "--reject-with", "tcp-reset", "-m", "comment", "--comment", "kforge-lab-first-boot-fault"}
}

func (f *s3Unreachable) prepare(launched time.Time) func(ctx context.Context, netns string) error {
	return func(ctx context.Context, netns string) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.netns, f.launched = netns, launched
		out, err := exec.CommandContext(ctx, "nsenter", f.rule("-I")...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("blocking the emulator in %s: %w: %s", netns, err, out)
		}
		return nil
	}
}

// lift removes the rule at launch + faultFor.
func (f *s3Unreachable) lift(ctx context.Context) (time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.netns == "" {
		return 0, fmt.Errorf("the fault was never put in place")
	}
	time.Sleep(time.Until(f.launched.Add(faultFor)))
	out, err := exec.CommandContext(ctx, "nsenter", f.rule("-D")...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("lifting the fault in %s: %w: %s", f.netns, err, out)
	}
	return time.Since(f.launched), nil
}

func inGroup(i ec2types.Instance, group string) bool {
	for _, t := range i.Tags {
		if aws.ToString(t.Key) == "aws:autoscaling:groupName" && aws.ToString(t.Value) == group {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
