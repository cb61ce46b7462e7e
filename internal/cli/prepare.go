package cli

import (
	"fmt"
	"time"

	"github.com/kforge/kforge/internal/tfrun"
)

// printSummary prints a plan summary grouped by module.
func (app *App) printSummary(s tfrun.Summary) {
	if s.Total() == 0 {
		app.Printf("No changes: the infrastructure matches the configuration.\n")
		return
	}
	rows := [][]string{{"MODULE", "ADD", "CHANGE", "DESTROY", "REPLACE"}}
	for _, m := range s.Modules {
		name := m.Module
		if name == "" {
			name = "(root)"
		}
		rows = append(rows, []string{name, itoa(m.Add), itoa(m.Change), itoa(m.Destroy), itoa(m.Replace)})
	}
	t := s.Totals
	rows = append(rows, []string{"total", itoa(t.Add), itoa(t.Change), itoa(t.Destroy), itoa(t.Replace)})
	app.Table(rows)
	app.Printf("Plan: %d to add, %d to change, %d to destroy, %d to replace.\n", t.Add, t.Change, t.Destroy, t.Replace)
}

func itoa(n int) string { return fmt.Sprint(n) }

// progressPrinter prints apply/destroy progress lines to stderr.
func (app *App) progressPrinter(verb string) func(tfrun.Progress) {
	past := map[string]string{"create": "created", "update": "updated", "delete": "destroyed", "replace": "replaced", "read": "read"}
	return func(p tfrun.Progress) {
		stamp := fmt.Sprintf("[%3d/%-3d %s]", p.Done, p.Total, fmtDuration(p.Elapsed))
		switch p.Event {
		case "start":
			app.Notef("%s %s %s...\n", stamp, verbing(p.Action), p.Resource)
		case "progress":
			app.Notef("%s still %s %s\n", stamp, verbing(p.Action), p.Resource)
		case "complete":
			done := past[p.Action]
			if done == "" {
				done = p.Action + " done"
			}
			app.Notef("%s %s %s\n", stamp, done, p.Resource)
		case "errored":
			app.Notef("%s FAILED to %s %s\n", stamp, p.Action, p.Resource)
		}
	}
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

func fmtDuration(d time.Duration) string {
	d = d.Truncate(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}
