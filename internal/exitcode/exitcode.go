// Package exitcode holds the process exit codes every kforge command
// shares, the operator's and the node agent's: 0 success, 1 failure,
// 2 bad input (refused before any cloud call), 130 interrupted.
package exitcode

import "fmt"

// Exit codes.
const (
	OK          = 0
	Failure     = 1
	Usage       = 2
	Interrupted = 130
)

// Error carries the process exit code of a failure.
type Error struct {
	Code int
	Err  error
	// Silent: the command already said everything (plan --detailed-exitcode).
	Silent bool
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Usagef is invalid input from the user: exit code 2.
func Usagef(format string, args ...any) error {
	return &Error{Code: Usage, Err: fmt.Errorf(format, args...)}
}

// Failuref is an error with exit code 1 and a message that says what to do.
func Failuref(format string, args ...any) error {
	return &Error{Code: Failure, Err: fmt.Errorf(format, args...)}
}
