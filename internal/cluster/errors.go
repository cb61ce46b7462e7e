package cluster

import (
	"context"
	"errors"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/exitcode"
	"github.com/kforge/kforge/internal/tfrun"
)

// Exit codes of kforge's commands (see internal/exitcode).
const (
	ExitOK          = exitcode.OK
	ExitFailure     = exitcode.Failure
	ExitUsage       = exitcode.Usage
	ExitInterrupted = exitcode.Interrupted
)

// ExitError carries the process exit code of a failure.
type ExitError = exitcode.Error

// UsageError is invalid input from the user: exit code 2.
func UsageError(format string, args ...any) error { return exitcode.Usagef(format, args...) }

// Failure is an error with exit code 1 and a message that says what to do.
func Failure(format string, args ...any) error { return exitcode.Failuref(format, args...) }

// ExitCode maps an error to kforge's exit codes: an ExitError's own code,
// an invalid configuration 2, an interrupted Terraform run 130, else 1.
func ExitCode(err error) int {
	var ee *ExitError
	var ve *config.ValidationError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ve):
		return ExitUsage
	case errors.Is(err, tfrun.ErrInterrupted):
		return ExitInterrupted
	}
	return ExitFailure
}

// UI is what a workflow needs from the command running it.
type UI interface {
	// Notef writes a note (progress, hints) to stderr.
	Notef(format string, args ...any)
	// Infof writes a line of the text result to stdout; nothing when the
	// result is printed as JSON.
	Infof(format string, args ...any)
	// Confirm asks the user to type want before action; it fails when
	// nobody confirmed, and as soon as ctx ends (Ctrl-C at the question).
	Confirm(ctx context.Context, action, want string) error
}
