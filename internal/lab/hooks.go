package lab

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Auto Scaling's termination lifecycle hooks, as far as the emulator
// leaves them out. On AWS a group scaling in holds the instance in
// Terminating:Wait, EventBridge receives an "EC2 Instance-terminate
// Lifecycle Action" event, the cluster's rule sends it to the node events
// queue, the control plane's drainer drains the node, deletes its Node and
// completes the action, and only then does the instance terminate. moto
// stores the hook but terminates the instance at once, sends no event, and
// does not implement CompleteLifecycleAction (docs/EMULATOR-NOTES.md). The
// lab delivers the event AWS would deliver to the queue the cluster's rule
// targets, and keeps the node running, as Terminating:Wait would, until its
// Node object is gone (the drainer's last step before completing the
// action) or the hook's heartbeat timeout passes.

const (
	terminatingTransition = "autoscaling:EC2_INSTANCE_TERMINATING"
	lifecycleDetailType   = "EC2 Instance-terminate Lifecycle Action"
)

// terminationHook is a group's termination hook and where its event goes.
type terminationHook struct {
	Group     string
	Hook      string
	Heartbeat time.Duration
	QueueURL  string
}

// terminationHook returns group's termination lifecycle hook and the queue
// the rule matching its events targets; nil when the group has no such
// hook, or no rule sends its events to a queue (then AWS would deliver
// nothing either, and the instance would terminate at once).
func (f *Fleet) terminationHook(ctx context.Context, group string) (*terminationHook, error) {
	if f.AutoScaling == nil || f.Events == nil || f.SQS == nil || group == "" {
		return nil, nil
	}
	out, err := f.AutoScaling.DescribeLifecycleHooks(ctx, &autoscaling.DescribeLifecycleHooksInput{AutoScalingGroupName: aws.String(group)})
	if err != nil {
		// The group is gone (a whole cluster coming down): no hook holds.
		if strings.Contains(err.Error(), "not found") || strings.Contains(err.Error(), "ValidationError") {
			return nil, nil
		}
		return nil, fmt.Errorf("lifecycle hooks of %s: %w", group, err)
	}
	var h *terminationHook
	for _, lh := range out.LifecycleHooks {
		if aws.ToString(lh.LifecycleTransition) == terminatingTransition {
			h = &terminationHook{Group: group, Hook: aws.ToString(lh.LifecycleHookName),
				Heartbeat: time.Duration(aws.ToInt32(lh.HeartbeatTimeout)) * time.Second}
			break
		}
	}
	if h == nil {
		return nil, nil
	}
	if h.Heartbeat <= 0 {
		h.Heartbeat = time.Hour // Auto Scaling's default heartbeat
	}
	url, err := f.lifecycleQueue(ctx, group)
	if err != nil || url == "" {
		return nil, err
	}
	h.QueueURL = url
	return h, nil
}

// eventPattern is the part of an EventBridge pattern the lab matches.
type eventPattern struct {
	Source     []string `json:"source"`
	DetailType []string `json:"detail-type"`
	Detail     struct {
		AutoScalingGroupName []string `json:"AutoScalingGroupName"`
	} `json:"detail"`
}

// lifecycleQueue finds the SQS queue that a rule of the default event bus
// sends group's termination lifecycle events to: the rule whose pattern
// names source aws.autoscaling, the lifecycle detail type and the group
// (or no group: every group).
func (f *Fleet) lifecycleQueue(ctx context.Context, group string) (string, error) {
	var token *string
	for {
		rules, err := f.Events.ListRules(ctx, &eventbridge.ListRulesInput{NamePrefix: aws.String(f.Cluster), NextToken: token})
		if err != nil {
			return "", fmt.Errorf("listing the event rules of %s: %w", f.Cluster, err)
		}
		for _, r := range rules.Rules {
			var p eventPattern
			if json.Unmarshal([]byte(aws.ToString(r.EventPattern)), &p) != nil ||
				!slices.Contains(p.Source, "aws.autoscaling") || !slices.Contains(p.DetailType, lifecycleDetailType) ||
				(len(p.Detail.AutoScalingGroupName) > 0 && !slices.Contains(p.Detail.AutoScalingGroupName, group)) {
				continue
			}
			targets, err := f.Events.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: r.Name})
			if err != nil {
				return "", fmt.Errorf("targets of event rule %s: %w", aws.ToString(r.Name), err)
			}
			for _, t := range targets.Targets {
				arn := aws.ToString(t.Arn)
				if !strings.HasPrefix(arn, "arn:aws:sqs:") {
					continue
				}
				q, err := f.SQS.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(arn[strings.LastIndex(arn, ":")+1:])})
				if err != nil {
					return "", fmt.Errorf("queue %s of event rule %s: %w", arn, aws.ToString(r.Name), err)
				}
				return aws.ToString(q.QueueUrl), nil
			}
		}
		if rules.NextToken == nil {
			return "", nil
		}
		token = rules.NextToken
	}
}

// lifecycleEvent is the event EventBridge delivers to a rule's SQS target
// when a group's termination hook holds an instance (the Auto Scaling
// user guide's "EC2 Instance-terminate Lifecycle Action" example).
func lifecycleEvent(h *terminationHook, instanceID, account, region string, now time.Time) ([]byte, error) {
	detail := map[string]string{
		"LifecycleActionToken": uuid(),
		"AutoScalingGroupName": h.Group,
		"LifecycleHookName":    h.Hook,
		"EC2InstanceId":        instanceID,
		"LifecycleTransition":  terminatingTransition,
		"Origin":               "AutoScalingGroup",
		"Destination":          "EC2",
	}
	return json.Marshal(map[string]any{
		"version":     "0",
		"id":          uuid(),
		"detail-type": lifecycleDetailType,
		"source":      "aws.autoscaling",
		"account":     account,
		"time":        now.UTC().Format(time.RFC3339),
		"region":      region,
		"resources":   []string{fmt.Sprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:%s:autoScalingGroupName/%s", region, account, uuid(), h.Group)},
		"detail":      detail,
	})
}

// sendLifecycleEvent puts the event for instanceID on the hook's queue.
func (f *Fleet) sendLifecycleEvent(ctx context.Context, h *terminationHook, instanceID, account, region string) error {
	body, err := lifecycleEvent(h, instanceID, account, region, time.Now())
	if err != nil {
		return err
	}
	if _, err := f.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(h.QueueURL), MessageBody: aws.String(string(body))}); err != nil {
		return fmt.Errorf("delivering the termination lifecycle event of %s to %s: %w", instanceID, h.QueueURL, err)
	}
	return nil
}

// holdTerminating keeps a scaled-in node running while its group's hook
// would hold the instance in Terminating:Wait: until its Node object is
// gone, the hook's heartbeat passes, the node stops by itself, or the
// fleet closes. Then it stops the node and forgets it.
func (f *Fleet) holdTerminating(id string, n *Instance, h *terminationHook) {
	defer f.holds.Done()
	deadline := time.Now().Add(h.Heartbeat)
	name := n.Spec.Hostname
	if n.Spec.Metadata != nil && n.Spec.Metadata.Hostname != "" {
		name = n.Spec.Metadata.Hostname
	}
	why := ""
	for why == "" {
		select {
		case <-f.closing:
			why = "the lab is closing"
			continue
		case <-time.After(2 * time.Second):
		}
		switch {
		case !n.Running():
			why = "the node stopped by itself"
		case time.Now().After(deadline):
			why = fmt.Sprintf("the hook's heartbeat timeout (%s) passed; CONTINUE", h.Heartbeat)
		case nodeGone(n, name):
			why = "its Node object is gone (drained)"
		}
	}
	fmt.Fprintf(f.Lab.Log, "lab: node %s leaves Terminating:Wait: %s; stopping it\n", id, why)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := n.Stop(ctx); err != nil {
		fmt.Fprintf(f.Lab.Log, "lab: stopping node %s: %v\n", id, err)
	}
	f.mu.Lock()
	delete(f.nodes, id)
	delete(f.terminating, id)
	f.mu.Unlock()
	fmt.Fprintf(f.Lab.Log, "lab: node %s stopped (its instance is gone)\n", id)
}

// nodeGone asks the API server, from the node itself with its kubelet's
// credentials (a node may read its own Node object), whether its Node
// object is gone. A node that never joined has no credentials: gone.
func nodeGone(n *Instance, name string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := n.Exec(ctx, "test", "-f", "/etc/kubernetes/kubelet.conf"); err != nil {
		return true
	}
	out, err := n.Exec(ctx, "kubectl", "--kubeconfig", "/etc/kubernetes/kubelet.conf", "--request-timeout=10s", "get", "node", name, "-o", "name")
	return err != nil && strings.Contains(out+err.Error(), "NotFound")
}

// uuid is a random version 4 UUID, as AWS's event ids and tokens are.
func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
