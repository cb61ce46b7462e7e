package cluster

import "fmt"

// Exit codes of kforge's commands.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitUsage       = 2
	ExitInterrupted = 130
)

// ExitError carries the process exit code of a failure.
type ExitError struct {
	Code int
	Err  error
	// Silent: the command already said everything (plan --detailed-exitcode).
	Silent bool
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// UsageError is invalid input from the user: exit code 2.
func UsageError(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// Failure is an error with exit code 1 and a message that says what to do.
func Failure(format string, args ...any) error {
	return &ExitError{Code: ExitFailure, Err: fmt.Errorf(format, args...)}
}

// UI is what a workflow needs from the command running it.
type UI interface {
	// Notef writes a note (progress, hints) to stderr.
	Notef(format string, args ...any)
	// Infof writes a line of the text result to stdout; nothing when the
	// result is printed as JSON.
	Infof(format string, args ...any)
	// Confirm asks the user to type want before action; it fails when
	// nobody confirmed.
	Confirm(action, want string) error
}
