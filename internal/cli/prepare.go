package cli

import "github.com/kforge/kforge/internal/tfrun"

// printSummary prints a plan summary grouped by module.
func (app *App) printSummary(s tfrun.Summary) {
	if s.Total() == 0 {
		app.Printf("No changes: the infrastructure matches the configuration.\n")
		return
	}
	app.Table(s.Rows())
	t := s.Totals
	app.Printf("Plan: %d to add, %d to change, %d to destroy, %d to replace.\n", t.Add, t.Change, t.Destroy, t.Replace)
	for _, line := range s.OutsideLines() {
		app.Printf("%s\n", line)
	}
}

// progress prints apply/destroy progress lines to stderr.
func (app *App) progress(p tfrun.Progress) {
	if line := p.Line(); line != "" {
		app.Notef("%s\n", line)
	}
}
