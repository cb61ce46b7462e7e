package lab

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/localaws/localawstest"
	"github.com/kforge/kforge/internal/nodelifecycle"
)

// TestTerminationHookEvent: for a group with a termination hook whose
// events a rule sends to a queue (as terraform/modules/interruption sets
// them up), the lab finds the hook and the queue and delivers the event
// AWS would, which the drainer's own parser reads as a lifecycle action of
// that group, hook and instance. A group without a hook gets none.
func TestTerminationHookEvent(t *testing.T) {
	emu := localawstest.StartForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, err := awsx.Config(ctx, "us-east-1", emu.URL())
	if err != nil {
		t.Fatal(err)
	}
	ec2c, asg, ev, sq := ec2.NewFromConfig(cfg), autoscaling.NewFromConfig(cfg), eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	lt, err := ec2c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("kforge-local-general"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-760aaa0f"), InstanceType: ec2types.InstanceTypeT3Medium}})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"kforge-local-general", "kforge-local-controller"} {
		if _, err := asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String(g),
			MinSize: aws.Int32(0), MaxSize: aws.Int32(2), DesiredCapacity: aws.Int32(0), AvailabilityZones: []string{"us-east-1a"},
			LaunchTemplate: &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := asg.PutLifecycleHook(ctx, &autoscaling.PutLifecycleHookInput{AutoScalingGroupName: aws.String("kforge-local-general"),
		LifecycleHookName: aws.String("kforge-drain"), LifecycleTransition: aws.String(terminatingTransition),
		HeartbeatTimeout: aws.Int32(600), DefaultResult: aws.String("CONTINUE")}); err != nil {
		t.Fatal(err)
	}
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("kforge-local-node-events")})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
	if err != nil {
		t.Fatal(err)
	}
	pattern := `{"source":["aws.autoscaling"],"detail-type":["EC2 Instance-terminate Lifecycle Action"],"detail":{"AutoScalingGroupName":["kforge-local-general"]}}`
	for name, p := range map[string]string{"kforge-local-lifecycle": pattern,
		"kforge-local-state-change": `{"source":["aws.ec2"],"detail-type":["EC2 Instance State-change Notification"]}`} {
		if _, err := ev.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventPattern: aws.String(p)}); err != nil {
			t.Fatal(err)
		}
		if _, err := ev.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name),
			Targets: []ebtypes.Target{{Id: aws.String("node-events"), Arn: aws.String(attrs.Attributes["QueueArn"])}}}); err != nil {
			t.Fatal(err)
		}
	}
	f := &Fleet{Cluster: "kforge-local", AutoScaling: asg, Events: ev, SQS: sq}

	if h, err := f.terminationHook(ctx, "kforge-local-controller"); err != nil || h != nil {
		t.Fatalf("a group without a termination hook: %+v, %v; want none", h, err)
	}
	h, err := f.terminationHook(ctx, "kforge-local-general")
	if err != nil || h == nil {
		t.Fatalf("the worker group's termination hook: %+v, %v", h, err)
	}
	if h.Hook != "kforge-drain" || h.Heartbeat != 10*time.Minute || h.QueueURL != aws.ToString(q.QueueUrl) {
		t.Fatalf("hook %+v; want kforge-drain, 10m0s, queue %s", h, aws.ToString(q.QueueUrl))
	}
	if err := f.sendLifecycleEvent(ctx, h, "i-0123456789abcdef0", "123456789012", "us-east-1"); err != nil {
		t.Fatal(err)
	}
	got, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 1})
	if err != nil || len(got.Messages) != 1 {
		t.Fatalf("receiving the event: %v, %d messages", err, len(got.Messages))
	}
	body := aws.ToString(got.Messages[0].Body)
	e, err := nodelifecycle.ParseEvent([]byte(body))
	if err != nil {
		t.Fatalf("the drainer cannot read the event: %v\n%s", err, body)
	}
	if e.Action != nodelifecycle.ActionLifecycle || e.Group != "kforge-local-general" || e.Hook != "kforge-drain" ||
		len(e.InstanceIDs) != 1 || e.InstanceIDs[0] != "i-0123456789abcdef0" || e.Token == "" {
		t.Fatalf("the drainer reads %+v", e)
	}
	var env map[string]any
	if err := json.Unmarshal([]byte(body), &env); err != nil || env["account"] != "123456789012" || env["region"] != "us-east-1" {
		t.Fatalf("envelope %s", body)
	}
}
