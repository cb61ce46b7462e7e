package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQS is the part of the SQS API the drainer calls.
type SQS interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

// Drainer reads the node events queue (EventBridge rules write Auto
// Scaling lifecycle actions, Spot interruption warnings, rebalance
// recommendations, state changes and AWS Health scheduled changes to it)
// and acts on each event through Handler. A message is deleted only once
// its event is handled; a failure leaves it to come back after the
// visibility timeout, and handling it again is harmless (every step is
// idempotent). Now and then it also scans the groups for instances in
// Terminating:Wait and the nodes for NotReady ones whose instance is gone,
// for events that never reached the queue or expired in it while the
// drainer was down.
type Drainer struct {
	Handler  *Handler
	SQS      SQS
	QueueURL string
	// EC2, when set, lets the periodic scan delete NotReady Nodes whose
	// instance is gone (RemoveGoneNodes), and replace the workers a
	// restored control plane has no Node of (ReplaceWorkersWithoutNode).
	EC2 EC2
	// RestoredAt is when this control plane restored the cluster from a
	// snapshot by itself; zero when it did not.
	RestoredAt time.Time
	// InterruptionDrainTimeout bounds the drain after a Spot interruption
	// warning; it is cut shorter so the Node is deleted before EC2 takes
	// the instance (SpotWarning after the event, less InterruptionMargin).
	InterruptionDrainTimeout time.Duration
	// InterruptionMargin is kept free before the Spot deadline.
	InterruptionMargin time.Duration
	// Wait is the long-poll wait of one receive (SQS allows up to 20 s).
	Wait time.Duration
	// ScanEvery is the interval of the Terminating:Wait scan; 0 turns it off.
	ScanEvery time.Duration
	// ErrorBackoff is the pause after a failed receive.
	ErrorBackoff time.Duration
	// Visibility overrides how long a received message stays hidden
	// (default: the drain timeout plus a minute).
	Visibility time.Duration
	Now        func() time.Time
	// Snapshot, when set, takes an etcd snapshot, uploads it and records
	// the request id (ActionSnapshot); unset, such a request is an error.
	Snapshot func(ctx context.Context, request string) error
}

// Outcome is what happened to one message.
type Outcome struct {
	MessageID string   `json:"message_id"`
	Event     Event    `json:"event"`
	Results   []Result `json:"results,omitempty"`
	// Skipped says why an event needed nothing (not this cluster's
	// instance, group or hook).
	Skipped string `json:"skipped,omitempty"`
	Deleted bool   `json:"deleted"`
	Error   string `json:"error,omitempty"`
}

func (d *Drainer) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// visibility is how long a received message stays hidden: longer than its
// longest handling (a lifecycle drain, the node's deletion, completing the
// action), so it does not come back while it is being handled.
func (d *Drainer) visibility() int32 {
	v := d.Visibility
	if v == 0 {
		v = d.Handler.DrainTimeout + time.Minute
	}
	s := int32(v / time.Second)
	return min(max(s, 1), 43200)
}

// receive receives up to ten messages, waiting up to Wait for the first.
func (d *Drainer) receive(ctx context.Context) ([]sqstypes.Message, error) {
	out, err := d.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:            aws.String(d.QueueURL),
		MaxNumberOfMessages: 10,
		WaitTimeSeconds:     int32(min(d.Wait, 20*time.Second) / time.Second),
		VisibilityTimeout:   d.visibility(),
	})
	if err != nil {
		return nil, fmt.Errorf("receiving from %s: %w", d.QueueURL, err)
	}
	return out.Messages, nil
}

// ReceiveOnce receives up to ten messages (waiting up to Wait for the
// first), handles them concurrently, deletes each handled one, and returns
// when all are handled.
func (d *Drainer) ReceiveOnce(ctx context.Context) ([]Outcome, error) {
	msgs, err := d.receive(ctx)
	if err != nil {
		return nil, err
	}
	outcomes := make([]Outcome, len(msgs))
	var wg sync.WaitGroup
	for i, m := range msgs {
		wg.Go(func() { outcomes[i] = d.handleMessage(ctx, m) })
	}
	wg.Wait()
	var errs []error
	for _, o := range outcomes {
		if o.Error != "" {
			errs = append(errs, fmt.Errorf("message %s: %s", o.MessageID, o.Error))
		}
	}
	return outcomes, errors.Join(errs...)
}

func (d *Drainer) handleMessage(ctx context.Context, m sqstypes.Message) Outcome {
	log := d.Handler.logger()
	o := Outcome{MessageID: aws.ToString(m.MessageId)}
	ev, err := ParseEvent([]byte(aws.ToString(m.Body)))
	if err != nil {
		// Receiving it again cannot make it parse: drop it, loudly.
		log.Error("node event unreadable; deleting the message", "message", o.MessageID, "error", err.Error())
		o.Error = err.Error()
		o.Deleted = d.delete(ctx, m, &o)
		return o
	}
	o.Event = ev
	if err := d.act(ctx, &o); err != nil {
		o.Error = err.Error()
		log.Error("node event not handled; it comes back after the visibility timeout", "message", o.MessageID,
			"event", ev.DetailType, "instances", ev.InstanceIDs, "error", err.Error())
		return o
	}
	o.Deleted = d.delete(ctx, m, &o)
	return o
}

func (d *Drainer) delete(ctx context.Context, m sqstypes.Message, o *Outcome) bool {
	_, err := d.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(d.QueueURL), ReceiptHandle: m.ReceiptHandle})
	if err != nil {
		err = fmt.Errorf("deleting message %s: %w", o.MessageID, err)
		o.Error = errors.Join(errorOf(o.Error), err).Error()
		d.Handler.logger().Error("node event handled but its message not deleted; it comes back and is handled again", "message", o.MessageID, "error", err.Error())
		return false
	}
	return true
}

func errorOf(s string) error {
	if s == "" {
		return nil
	}
	return errors.New(s)
}

// act does what the event asks, for the instances that are this cluster's.
func (d *Drainer) act(ctx context.Context, o *Outcome) error {
	h, ev := d.Handler, o.Event
	log := h.logger()
	switch ev.Action {
	case ActionIgnore:
		o.Skipped = "no action for this event"
		log.Debug("node event ignored", "event", ev.DetailType, "reason", ev.Reason)
		return nil
	case ActionSnapshot:
		if d.Snapshot == nil {
			return fmt.Errorf("snapshot request %s: this drainer takes no snapshots", ev.Request)
		}
		log.Info("snapshot requested: taking an etcd snapshot", "request", ev.Request)
		if err := d.Snapshot(ctx, ev.Request); err != nil {
			return fmt.Errorf("snapshot request %s: %w", ev.Request, err)
		}
		log.Info("snapshot request served", "request", ev.Request)
		return nil
	case ActionLifecycle:
		ours, err := h.ownsGroup(ctx, ev.Group)
		if err != nil {
			return fmt.Errorf("lifecycle action of group %s: %w", ev.Group, err)
		}
		if !ours || ev.Hook != h.Hook {
			o.Skipped = fmt.Sprintf("group %s hook %s is not this cluster's", ev.Group, ev.Hook)
			log.Info("lifecycle action of another group or hook ignored", "group", ev.Group, "hook", ev.Hook, "instance", ev.InstanceIDs[0])
			return nil
		}
		id := ev.InstanceIDs[0]
		timeout := d.lifecycleTimeout(ev)
		log.Info("terminating instance: draining its node", "group", ev.Group, "instance", id, "timeout", timeout.String())
		r, err := h.drainAndDelete(ctx, id, timeout)
		r.Group = ev.Group
		o.Results = append(o.Results, r)
		if err != nil {
			return err
		}
		if err := h.complete(ctx, ev.Group, ev.Hook, ev.Token, id); err != nil {
			return err
		}
		log.Info("terminating instance handled; lifecycle action completed", "group", ev.Group, "instance", id,
			"node", r.Node, "evicted", r.Evicted, "drain_timed_out", r.DrainTimedOut)
		return nil
	}
	var errs []error
	handled := 0
	for _, id := range ev.InstanceIDs {
		node, err := h.nodeOf(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if node == nil {
			continue // not a node of this cluster, or gone already
		}
		handled++
		r := Result{InstanceID: id, Node: node.Name}
		switch ev.Action {
		case ActionInterruption:
			timeout := d.interruptionTimeout(ev)
			log.Info("Spot interruption warning: draining the node before EC2 takes the instance", "instance", id, "node", node.Name,
				"deadline", ev.Deadline().Format(time.RFC3339), "timeout", timeout.String())
			r, err = h.drainAndDelete(ctx, id, timeout)
			if err == nil {
				log.Info("interrupted instance handled; node deleted", "instance", id, "node", r.Node, "evicted", r.Evicted, "drain_timed_out", r.DrainTimedOut)
			}
		case ActionCordon:
			why := CordonScheduledChange
			if ev.DetailType == detailRebalance {
				why = CordonRebalance
			}
			err = h.cordonFor(ctx, node, why, d.now())
			if err == nil {
				log.Info("instance at risk: node cordoned (its replacement drains it through the lifecycle hook)", "instance", id, "node", node.Name,
					"event", ev.DetailType, "reason", ev.Reason)
			}
		case ActionUncordon:
			var lifted bool
			lifted, err = h.uncordonIf(ctx, node, CordonScheduledChange)
			if err == nil && lifted {
				log.Info("scheduled change closed: node uncordoned", "instance", id, "node", node.Name, "reason", ev.Reason)
			}
		case ActionRemoveNode:
			err = h.deleteNode(ctx, node.Name)
			if err == nil {
				log.Info("instance gone: node deleted", "instance", id, "node", node.Name, "state", ev.Reason)
			}
		}
		o.Results = append(o.Results, r)
		if err != nil {
			errs = append(errs, fmt.Errorf("instance %s: %w", id, err))
		}
	}
	if handled == 0 && len(errs) == 0 {
		o.Skipped = "no node of this cluster runs on " + fmt.Sprint(ev.InstanceIDs)
		log.Debug("node event about no node of this cluster", "event", ev.DetailType, "instances", ev.InstanceIDs)
	}
	return errors.Join(errs...)
}

// interruptionTimeout is InterruptionDrainTimeout, cut so the drain ends
// InterruptionMargin before the Spot deadline; zero when that is past (the
// Node is then deleted at once).
func (d *Drainer) interruptionTimeout(ev Event) time.Duration {
	t := d.InterruptionDrainTimeout
	if dl := ev.Deadline(); !dl.IsZero() {
		t = min(t, dl.Sub(d.now())-d.InterruptionMargin)
	}
	return max(t, 0)
}

// lifecycleTimeout is the Handler's DrainTimeout less the time since the
// lifecycle action began (the event's time), from which the hook's
// heartbeat runs: an event read late (the drainer restarted, a redelivery)
// must not drain past the heartbeat, when Auto Scaling terminates the
// instance mid-drain. Zero when that is past (the Node is deleted at once).
func (d *Drainer) lifecycleTimeout(ev Event) time.Duration {
	t := d.Handler.DrainTimeout
	if !ev.Time.IsZero() {
		t = min(t, ev.Time.Add(d.Handler.DrainTimeout).Sub(d.now()))
	}
	return max(t, 0)
}

// maxEventsInFlight bounds how many lifecycle drains Run handles at once,
// and, apart, how many other events: a burst of drains held by budgets
// (each up to DrainTimeout) must not keep a Spot warning, which has two
// minutes, from a slot.
const maxEventsInFlight = 20

// Run receives and handles events until ctx ends, and runs the
// Terminating:Wait scan every ScanEvery (first at the start). It keeps
// receiving while events are being handled: a lifecycle drain may take up
// to DrainTimeout, and a Spot interruption warning that arrives meanwhile
// has two minutes, not the rest of that drain. A message stays invisible
// while it is handled (visibility), so no other receive hands it out.
// Failures are logged and retried; only the end of ctx ends it, once the
// events being handled are done.
func (d *Drainer) Run(ctx context.Context) error {
	log := d.Handler.logger()
	log.Info("node events drainer started", "queue", d.QueueURL, "groups", d.Handler.groups(), "hook", d.Handler.Hook,
		"drain_timeout", d.Handler.DrainTimeout.String(), "interruption_drain_timeout", d.InterruptionDrainTimeout.String())
	var handling sync.WaitGroup
	drains, others := make(chan struct{}, maxEventsInFlight), make(chan struct{}, maxEventsInFlight)
	scanning := make(chan struct{}, 1)
	var lastScan time.Time
	for ctx.Err() == nil {
		if d.ScanEvery > 0 && (lastScan.IsZero() || d.now().Sub(lastScan) >= d.ScanEvery) {
			select {
			case scanning <- struct{}{}:
				lastScan = d.now()
				handling.Go(func() {
					defer func() { <-scanning }()
					d.scan(ctx)
				})
			default: // the previous scan is still draining
			}
		}
		msgs, err := d.receive(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("node events: receiving failed", "error", err.Error())
				select {
				case <-ctx.Done():
				case <-time.After(d.ErrorBackoff):
				}
			}
			continue
		}
		for _, m := range msgs {
			slots := others
			if ev, err := ParseEvent([]byte(aws.ToString(m.Body))); err == nil && ev.Action == ActionLifecycle {
				slots = drains
			}
			// The event waits for its slot, not the receive: a full pool
			// of drains keeps no other event from being received.
			handling.Go(func() {
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return // not handled: it comes back after the visibility timeout
				}
				defer func() { <-slots }()
				if o := d.handleMessage(ctx, m); o.Error != "" && ctx.Err() == nil {
					log.Warn("node event not handled; it is received again after the visibility timeout", "message", o.MessageID, "error", o.Error)
				}
			})
		}
	}
	handling.Wait()
	log.Info("node events drainer stopped")
	return nil
}

// scan handles the instances in Terminating:Wait that no event delivered,
// deletes the Nodes of instances that are gone, replaces the workers a
// restore left without a Node, and lifts the rebalance cordons Auto
// Scaling did not act on.
func (d *Drainer) scan(ctx context.Context) {
	log := d.Handler.logger()
	if d.Handler.ReloadGroups != nil {
		if err := d.Handler.reloadGroups(ctx); err != nil {
			log.Warn("scanning the groups known so far", "groups", d.Handler.groups(), "error", err.Error())
		}
	}
	if rs, err := d.Handler.RunOnce(ctx); err != nil {
		log.Error("Terminating:Wait scan failed", "error", err.Error())
	} else if len(rs) > 0 {
		log.Info("Terminating:Wait scan handled instances the queue had not delivered", "count", len(rs))
	}
	if d.EC2 != nil {
		if _, err := d.Handler.RemoveGoneNodes(ctx, d.EC2, d.now()); err != nil {
			log.Error("removing the nodes of gone instances failed", "error", err.Error())
		}
	}
	if d.EC2 != nil && !d.RestoredAt.IsZero() {
		if _, err := d.Handler.ReplaceWorkersWithoutNode(ctx, d.EC2, d.RestoredAt, d.now()); err != nil {
			log.Error("replacing the workers without a Node after the restore failed", "error", err.Error())
		}
	}
	if _, err := d.Handler.LiftStaleRebalanceCordons(ctx, d.now()); err != nil {
		log.Error("lifting stale rebalance cordons failed", "error", err.Error())
	}
}
