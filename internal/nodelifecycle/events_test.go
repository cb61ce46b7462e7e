package nodelifecycle

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func readEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseEventSamples parses the EventBridge samples of testdata/events
// (shapes from the AWS documentation; see its README) into the action the
// drainer takes.
func TestParseEventSamples(t *testing.T) {
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		file string
		want Event
	}{
		{"lifecycle-terminate.json", Event{
			ID: "468fe059-f4b7-445f-bb22-2b1a4b4bb5d0", DetailType: "EC2 Instance-terminate Lifecycle Action", Time: at,
			Action: ActionLifecycle, InstanceIDs: []string{"i-0a1b2c3d4e5f60001"},
			Group: "demo-general", Hook: "kforge-drain", Token: "87654321-4321-4321-4321-210987654321",
		}},
		{"lifecycle-launch.json", Event{
			ID: "3e3c153a-8339-4e30-8c35-687ebef853fe", DetailType: "EC2 Instance-launch Lifecycle Action", Time: at, Action: ActionIgnore,
		}},
		{"spot-interruption.json", Event{
			ID: "1e5527d7-bb36-4607-3370-4164db56a40e", DetailType: "EC2 Spot Instance Interruption Warning", Time: at,
			Action: ActionInterruption, InstanceIDs: []string{"i-0a1b2c3d4e5f60002"}, Reason: "terminate",
		}},
		{"rebalance.json", Event{
			ID: "5d3b1f10-8a4e-4c59-9a4f-0c6a86a8c5f1", DetailType: "EC2 Instance Rebalance Recommendation", Time: at,
			Action: ActionCordon, InstanceIDs: []string{"i-0a1b2c3d4e5f60003"},
		}},
		{"state-change-terminated.json", Event{
			ID: "b6ba298a-7732-2226-a3bb-976312c1a050", DetailType: "EC2 Instance State-change Notification", Time: at,
			Action: ActionRemoveNode, InstanceIDs: []string{"i-0a1b2c3d4e5f60004"}, Reason: "terminated",
		}},
		{"health-scheduled-change.json", Event{
			ID: "7bf73129-1428-4cd3-a780-95db273d1602", DetailType: "AWS Health Event", Time: at,
			Action: ActionCordon, InstanceIDs: []string{"i-0a1b2c3d4e5f60005"}, Reason: "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED",
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := ParseEvent(readEvent(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != tc.want.ID || got.DetailType != tc.want.DetailType || !got.Time.Equal(tc.want.Time) || got.Action != tc.want.Action ||
				!slices.Equal(got.InstanceIDs, tc.want.InstanceIDs) || got.Group != tc.want.Group || got.Hook != tc.want.Hook ||
				got.Token != tc.want.Token || got.Reason != tc.want.Reason {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestSpotDeadlineIsTwoMinutesAfterTheWarning(t *testing.T) {
	ev, err := ParseEvent(readEvent(t, "spot-interruption.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 30, 10, 2, 0, 0, time.UTC); !ev.Deadline().Equal(want) {
		t.Errorf("deadline %v, want %v", ev.Deadline(), want)
	}
	lc, _ := ParseEvent(readEvent(t, "lifecycle-terminate.json"))
	if !lc.Deadline().IsZero() {
		t.Errorf("a lifecycle action has no Spot deadline, got %v", lc.Deadline())
	}
}

// Only states in which the instance is gone or going remove the Node.
func TestStateChangeActions(t *testing.T) {
	base := string(readEvent(t, "state-change-terminated.json"))
	for state, want := range map[string]Action{
		"pending": ActionIgnore, "running": ActionIgnore, "stopping": ActionIgnore, "stopped": ActionIgnore,
		"shutting-down": ActionRemoveNode, "terminated": ActionRemoveNode,
	} {
		ev, err := ParseEvent([]byte(strings.Replace(base, `"state": "terminated"`, `"state": "`+state+`"`, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if ev.Action != want {
			t.Errorf("state %s: action %s, want %s", state, ev.Action, want)
		}
	}
}

func TestParseEventRejectsWhatItCannotActOn(t *testing.T) {
	lifecycle := string(readEvent(t, "lifecycle-terminate.json"))
	spot := string(readEvent(t, "spot-interruption.json"))
	for name, body := range map[string]string{
		"not JSON":                    "hello",
		"an SNS envelope":             `{"Type":"Notification","MessageId":"x","Message":"{}"}`,
		"lifecycle without instance":  strings.Replace(lifecycle, `"EC2InstanceId": "i-0a1b2c3d4e5f60001",`, "", 1),
		"lifecycle without hook name": strings.Replace(lifecycle, `"LifecycleHookName": "kforge-drain",`, "", 1),
		"spot without instance":       strings.Replace(spot, `"instance-id": "i-0a1b2c3d4e5f60002",`, "", 1),
		"detail of the wrong type":    strings.Replace(spot, `"instance-id": "i-0a1b2c3d4e5f60002"`, `"instance-id": 7`, 1),
	} {
		if _, err := ParseEvent([]byte(body)); err == nil {
			t.Errorf("%s: parsed, want an error", name)
		}
	}
	// Kinds the rules do not send are ignored, not errors.
	other := strings.Replace(spot, "EC2 Spot Instance Interruption Warning", "EC2 Fleet Spot Instance Request Change", 1)
	if ev, err := ParseEvent([]byte(other)); err != nil || ev.Action != ActionIgnore {
		t.Errorf("an unknown detail type: %+v %v, want ignored", ev, err)
	}
	closed := strings.Replace(string(readEvent(t, "health-scheduled-change.json")), `"statusCode": "upcoming"`, `"statusCode": "closed"`, 1)
	if ev, err := ParseEvent([]byte(closed)); err != nil || ev.Action != ActionUncordon || len(ev.InstanceIDs) != 1 {
		t.Errorf("a closed Health scheduled change: %+v %v, want its instance uncordoned", ev, err)
	}
	health := strings.Replace(string(readEvent(t, "health-scheduled-change.json")), `"eventTypeCategory": "scheduledChange"`, `"eventTypeCategory": "issue"`, 1)
	if ev, err := ParseEvent([]byte(health)); err != nil || ev.Action != ActionIgnore {
		t.Errorf("a Health issue event: %+v %v, want ignored", ev, err)
	}
}

func FuzzParseEvent(f *testing.F) {
	for _, name := range []string{"lifecycle-terminate.json", "spot-interruption.json", "rebalance.json", "state-change-terminated.json", "health-scheduled-change.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", "events", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseEvent(body)
		if err != nil {
			return
		}
		if ev.Action != ActionIgnore && len(ev.InstanceIDs) == 0 {
			t.Errorf("action %s without an instance: %+v", ev.Action, ev)
		}
		if ev.Action == ActionLifecycle && (ev.Group == "" || ev.Hook == "") {
			t.Errorf("lifecycle action without group or hook: %+v", ev)
		}
	})
}
