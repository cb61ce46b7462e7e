package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/kforge/kforge/internal/wait"
)

// JSON reports whether results are printed as JSON (--output json).
func (app *App) JSON() bool { return app.Output == "json" }

// PrintJSON writes v to stdout as indented JSON.
func (app *App) PrintJSON(v any) error {
	enc := json.NewEncoder(app.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing JSON output: %w", err)
	}
	return nil
}

// report prints a workflow's result, as JSON or by text, also beside an
// error (a partial result says what was done before it); the workflow's
// error wins over one from printing.
func (app *App) report(res any, err error, text func()) error {
	if !app.JSON() {
		text()
		return err
	}
	if perr := app.PrintJSON(res); err == nil {
		err = perr
	}
	return err
}

// Printf writes a result line to stdout.
func (app *App) Printf(format string, args ...any) {
	fmt.Fprintf(app.Stdout, format, args...)
}

// Infof writes a line of the text result to stdout; nothing with --output json.
func (app *App) Infof(format string, args ...any) {
	if !app.JSON() {
		app.Printf(format, args...)
	}
}

// Notef writes a note (progress, hints) to stderr, keeping stdout for results.
func (app *App) Notef(format string, args ...any) {
	fmt.Fprintf(app.Stderr, format, args...)
}

// Table writes rows as aligned columns to stdout.
func (app *App) Table(rows [][]string) {
	tw := tabwriter.NewWriter(app.Stdout, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

// stdinIsTerminal reports whether a person can answer prompts.
func (app *App) stdinIsTerminal() bool {
	f, ok := app.Stdin.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// confirmable refuses (exit code 2) a change nobody can confirm: no --yes
// and no terminal. It names no command line to copy: one rebuilt from
// some flags would drop the others (an upgrade without --no-roll rolls).
func (app *App) confirmable(action string) error {
	if app.Yes || app.stdinIsTerminal() {
		return nil
	}
	return UsageError("refusing to %s without confirmation: stdin is not a terminal; re-run the same command with --yes", action)
}

// Confirm asks the user to type want (for example "yes" or the cluster
// name) before action. --yes skips the question; without a terminal and
// without --yes it refuses with exit code 2; Ctrl-C at it stops with 130.
func (app *App) Confirm(ctx context.Context, action, want string) error {
	if err := app.confirmable(action); err != nil || app.Yes {
		return err
	}
	fmt.Fprintf(app.Stderr, "Type %q to %s: ", want, action)
	line, err := wait.Line(ctx, app.Stdin)
	switch {
	case ctx.Err() != nil:
		return &ExitError{Code: ExitInterrupted, Err: fmt.Errorf("interrupted at the question: nothing was changed")}
	case err != nil && line == "":
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("no confirmation read: %w", err)}
	case strings.TrimSpace(line) != want:
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("not confirmed: nothing was changed")}
	}
	return nil
}
