package tfrun

import (
	"fmt"
	"strings"
	"time"
)

// The text views of a run's results, shared by every command that prints
// them.

// Line is the progress line a person reads for p, with the count and the
// elapsed time in front; "" for an event that says nothing new.
func (p Progress) Line() string {
	stamp := fmt.Sprintf("[%3d/%-3d %s]", p.Done, p.Total, minSec(p.Elapsed))
	switch p.Event {
	case "start":
		return fmt.Sprintf("%s %s %s...", stamp, verbing(p.Action), p.Resource)
	case "progress":
		return fmt.Sprintf("%s still %s %s", stamp, verbing(p.Action), p.Resource)
	case "complete":
		return fmt.Sprintf("%s %s %s", stamp, pastTense(p.Action), p.Resource)
	case "errored":
		return fmt.Sprintf("%s FAILED to %s %s", stamp, p.Action, p.Resource)
	}
	return ""
}

func verbing(action string) string {
	switch action {
	case "create":
		return "creating"
	case "update":
		return "updating"
	case "delete":
		return "destroying"
	case "replace":
		return "replacing"
	case "read":
		return "reading"
	}
	return action
}

func pastTense(action string) string {
	switch action {
	case "create":
		return "created"
	case "update":
		return "updated"
	case "delete":
		return "destroyed"
	case "replace":
		return "replaced"
	case "read":
		return "read"
	}
	return action + " done"
}

// minSec is d as minutes:seconds.
func minSec(d time.Duration) string {
	d = d.Truncate(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

// Rows is the summary as a table: a header, a row per module ("(root)" for
// the root module) and the totals.
func (s Summary) Rows() [][]string {
	row := func(name string, m ModuleChanges) []string {
		return []string{name, fmt.Sprint(m.Add), fmt.Sprint(m.Change), fmt.Sprint(m.Destroy), fmt.Sprint(m.Replace)}
	}
	rows := [][]string{{"MODULE", "ADD", "CHANGE", "DESTROY", "REPLACE"}}
	for _, m := range s.Modules {
		name := m.Module
		if name == "" {
			name = "(root)"
		}
		rows = append(rows, row(name, m))
	}
	return append(rows, row("total", s.Totals))
}

// DeletedOutsideLine names the recorded resources Terraform found gone,
// which the plan creates again; "" when there are none.
func (s Summary) DeletedOutsideLine() string {
	if len(s.DeletedOutside) == 0 {
		return ""
	}
	return fmt.Sprintf("Gone since the last apply (deleted outside Terraform, or read as gone): %s. The plan creates each again, new: what it held does not come back.", strings.Join(s.DeletedOutside, ", "))
}

// UndoneOutsideLine names the resources changed outside Terraform whose
// changes the plan sets back to what the last apply left, with the
// attributes; "" when there are none.
func (s Summary) UndoneOutsideLine() string {
	names := outsideNames(s.UndoneOutside, OutsideChange.SetBack)
	if names == "" {
		return ""
	}
	return fmt.Sprintf("Changed outside Terraform since the last apply, and set back by this plan: %s. Applying undoes those changes; to keep one, make it in the configuration.", names)
}

// ReconfiguredOutsideLine names the resources changed outside Terraform
// whose changes the plan replaces with values the last apply did not set
// (or may not: known only at the apply), with the attributes; "" when
// there are none. Saying "set back" of those would be wrong: the value set
// by hand goes, and the one before it does not come back either.
func (s Summary) ReconfiguredOutsideLine() string {
	names := outsideNames(s.UndoneOutside, func(c OutsideChange) []string { return c.Reconfigured })
	if names == "" {
		return ""
	}
	return fmt.Sprintf("Changed outside Terraform since the last apply, and changed again by this plan, to a new value from the configuration or one known only at the apply: %s. Applying replaces those changes; to keep one, make it the configuration's.", names)
}

// outsideNames lists each change's address with the attributes attrs
// picks from it, leaving out a change it picks none from.
func outsideNames(changes []OutsideChange, attrs func(OutsideChange) []string) string {
	var names []string
	for _, c := range changes {
		if picked := attrs(c); len(picked) > 0 {
			names = append(names, fmt.Sprintf("%s (%s)", c.Address, strings.Join(picked, ", ")))
		}
	}
	return strings.Join(names, ", ")
}

// OutsideLines are the summary's lines on what changed outside Terraform:
// what the plan creates again, what it sets back, and what it changes
// again to new values.
func (s Summary) OutsideLines() []string {
	var lines []string
	for _, line := range []string{s.DeletedOutsideLine(), s.UndoneOutsideLine(), s.ReconfiguredOutsideLine()} {
		if line != "" {
			lines = append(lines, line)
		}
	}
	return lines
}
