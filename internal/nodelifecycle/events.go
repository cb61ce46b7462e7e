package nodelifecycle

import (
	"encoding/json"
	"fmt"
	"time"
)

// Action is what the drainer does about one event.
type Action string

// The actions, from the strongest to none.
const (
	// ActionLifecycle: an Auto Scaling group holds the instance in
	// Terminating:Wait. Drain it, delete its Node, complete the action.
	ActionLifecycle Action = "lifecycle"
	// ActionInterruption: EC2 takes a Spot instance two minutes after the
	// event. Drain within that time and delete the Node; no lifecycle
	// action exists to complete.
	ActionInterruption Action = "interruption"
	// ActionCordon: the instance is at risk (a rebalance recommendation, a
	// scheduled retirement or maintenance) but not going yet. Cordon, so
	// no new pods land on it; its replacement goes through the lifecycle
	// hook, which drains. The cordon is marked as the drainer's and lifted
	// when nothing came of it (cordons.go).
	ActionCordon Action = "cordon"
	// ActionUncordon: a scheduled change is over (an AWS Health event
	// closed). Lift the cordon a scheduled-change event put on its nodes;
	// a cordon of anyone else stays.
	ActionUncordon Action = "uncordon"
	// ActionRemoveNode: the instance is gone or going (state
	// shutting-down or terminated). Delete its Node object if it is still
	// there: a termination that bypassed the hook (a hook timeout, an EC2
	// API termination) leaves no NotReady Node holding its pod range.
	ActionRemoveNode Action = "remove-node"
	// ActionSnapshot: kforge asks the control plane for an etcd snapshot
	// now (a roll of the control plane, right before its termination).
	ActionSnapshot Action = "snapshot"
	// ActionIgnore: nothing to do (a launch, a state such as running).
	ActionIgnore Action = "ignore"
)

// EventBridge detail types the node events queue receives.
const (
	detailLifecycleTerminate = "EC2 Instance-terminate Lifecycle Action"
	detailSpotInterruption   = "EC2 Spot Instance Interruption Warning"
	detailRebalance          = "EC2 Instance Rebalance Recommendation"
	detailStateChange        = "EC2 Instance State-change Notification"
	detailHealth             = "AWS Health Event"
	terminatingTransition    = "autoscaling:EC2_INSTANCE_TERMINATING"
)

// A snapshot request: an event kforge itself sends to the node events
// queue (SQS SendMessage), in EventBridge's envelope.
const (
	SnapshotSource     = "kforge"
	SnapshotDetailType = "Control Plane Snapshot Request"
)

// SnapshotRequest is the body of a snapshot request for request id id.
func SnapshotRequest(id string, at time.Time) ([]byte, error) {
	detail, err := json.Marshal(map[string]string{"request": id})
	if err != nil {
		return nil, err
	}
	return json.Marshal(envelope{Version: "0", ID: id, DetailType: SnapshotDetailType, Source: SnapshotSource, Time: at.UTC(), Detail: detail})
}

// SpotWarning is how long before the interruption EC2 sends the warning.
const SpotWarning = 2 * time.Minute

// Event is one EventBridge event, reduced to what the drainer acts on.
type Event struct {
	ID         string    `json:"id"`
	DetailType string    `json:"detail_type"`
	Time       time.Time `json:"time"`
	Action     Action    `json:"action"`
	// InstanceIDs are the instances the event is about: one for EC2 and
	// Auto Scaling events, one or more for an AWS Health event.
	InstanceIDs []string `json:"instance_ids,omitempty"`
	// Group, Hook and Token identify a lifecycle action.
	Group string `json:"group,omitempty"`
	Hook  string `json:"hook,omitempty"`
	Token string `json:"token,omitempty"`
	// Request is a snapshot request's id.
	Request string `json:"request,omitempty"`
	// Reason is the state or the Health event type code, for the log.
	Reason string `json:"reason,omitempty"`
}

// Deadline is when EC2 takes a Spot instance after an interruption
// warning; zero for other events.
func (e Event) Deadline() time.Time {
	if e.Action != ActionInterruption || e.Time.IsZero() {
		return time.Time{}
	}
	return e.Time.Add(SpotWarning)
}

// envelope is the EventBridge event structure.
type envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Time       time.Time       `json:"time"`
	Detail     json.RawMessage `json:"detail"`
}

type lifecycleDetail struct {
	LifecycleActionToken string `json:"LifecycleActionToken"`
	AutoScalingGroupName string `json:"AutoScalingGroupName"`
	LifecycleHookName    string `json:"LifecycleHookName"`
	EC2InstanceID        string `json:"EC2InstanceId"`
	LifecycleTransition  string `json:"LifecycleTransition"`
}

type ec2Detail struct {
	InstanceID     string `json:"instance-id"`
	InstanceAction string `json:"instance-action"`
	State          string `json:"state"`
}

type healthDetail struct {
	Service string `json:"service"`
	// StatusCode is upcoming, open or closed; closed when the change is done.
	StatusCode        string `json:"statusCode"`
	EventTypeCode     string `json:"eventTypeCode"`
	EventTypeCategory string `json:"eventTypeCategory"`
	AffectedEntities  []struct {
		EntityValue string `json:"entityValue"`
	} `json:"affectedEntities"`
}

// ParseEvent decodes an SQS message body written by an EventBridge rule.
// A body that is not an EventBridge event, or an event of a known kind
// without the fields its action needs, is an error: the drainer then
// leaves the message to expire rather than act on half of it. An event of
// a kind the drainer does not act on parses to ActionIgnore.
func ParseEvent(body []byte) (Event, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Event{}, fmt.Errorf("not an EventBridge event: %w", err)
	}
	if env.DetailType == "" || env.Source == "" || len(env.Detail) == 0 {
		return Event{}, fmt.Errorf("not an EventBridge event: detail-type, source or detail missing")
	}
	ev := Event{ID: env.ID, DetailType: env.DetailType, Time: env.Time, Action: ActionIgnore}
	switch {
	case env.Source == "aws.autoscaling" && env.DetailType == detailLifecycleTerminate:
		var d lifecycleDetail
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			return Event{}, fmt.Errorf("event %s (%s): %w", env.ID, env.DetailType, err)
		}
		if d.LifecycleTransition != terminatingTransition {
			ev.Reason = d.LifecycleTransition
			return ev, nil
		}
		if d.EC2InstanceID == "" || d.AutoScalingGroupName == "" || d.LifecycleHookName == "" {
			return Event{}, fmt.Errorf("event %s (%s): EC2InstanceId, AutoScalingGroupName or LifecycleHookName missing", env.ID, env.DetailType)
		}
		ev.Action = ActionLifecycle
		ev.InstanceIDs = []string{d.EC2InstanceID}
		ev.Group, ev.Hook, ev.Token = d.AutoScalingGroupName, d.LifecycleHookName, d.LifecycleActionToken
	case env.Source == "aws.ec2" && (env.DetailType == detailSpotInterruption || env.DetailType == detailRebalance || env.DetailType == detailStateChange):
		var d ec2Detail
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			return Event{}, fmt.Errorf("event %s (%s): %w", env.ID, env.DetailType, err)
		}
		if d.InstanceID == "" {
			return Event{}, fmt.Errorf("event %s (%s): instance-id missing", env.ID, env.DetailType)
		}
		ev.InstanceIDs = []string{d.InstanceID}
		switch env.DetailType {
		case detailSpotInterruption:
			// terminate, stop or hibernate: the node goes away in each case.
			ev.Action, ev.Reason = ActionInterruption, d.InstanceAction
		case detailRebalance:
			ev.Action = ActionCordon
		case detailStateChange:
			ev.Reason = d.State
			if d.State == "shutting-down" || d.State == "terminated" {
				ev.Action = ActionRemoveNode
			}
		}
	case env.Source == SnapshotSource && env.DetailType == SnapshotDetailType:
		var d struct {
			Request string `json:"request"`
		}
		if err := json.Unmarshal(env.Detail, &d); err != nil || d.Request == "" {
			return Event{}, fmt.Errorf("event %s (%s): request id missing (%v)", env.ID, env.DetailType, err)
		}
		ev.Action, ev.Request = ActionSnapshot, d.Request
	case env.Source == "aws.health" && env.DetailType == detailHealth:
		var d healthDetail
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			return Event{}, fmt.Errorf("event %s (%s): %w", env.ID, env.DetailType, err)
		}
		ev.Reason = d.EventTypeCode
		if d.Service != "EC2" || d.EventTypeCategory != "scheduledChange" {
			return ev, nil
		}
		for _, e := range d.AffectedEntities {
			if len(e.EntityValue) > 2 && e.EntityValue[:2] == "i-" {
				ev.InstanceIDs = append(ev.InstanceIDs, e.EntityValue)
			}
		}
		if len(ev.InstanceIDs) > 0 {
			ev.Action = ActionCordon
			if d.StatusCode == "closed" {
				ev.Action = ActionUncordon
			}
		}
	}
	return ev, nil
}
