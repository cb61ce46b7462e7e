package config

import (
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem in a configuration file.
type FieldError struct {
	// File is the file that set the offending value (an environment file or
	// its base file).
	File string
	// Line is the 1-based line of the value; 0 when unknown.
	Line int
	// Field is the dotted path of the field, for example
	// workerPools.general.max; empty for problems with the whole file.
	Field string
	// Message says what is wrong.
	Message string
	// Fix says how to correct it.
	Fix string
}

// String renders the error as "file:line: field: message (fix: ...)".
func (e FieldError) String() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Fix != "" {
		b.WriteString("\n    fix: ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

// ValidationError lists every problem found in a configuration. Callers map
// it to "invalid input" (exit code 2) with errors.As.
type ValidationError struct {
	Errors []FieldError
}

// Error lists all problems, one per line, with their fixes.
func (e *ValidationError) Error() string {
	if len(e.Errors) == 1 {
		return "invalid configuration: " + e.Errors[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration: %d problems:", len(e.Errors))
	for _, fe := range e.Errors {
		b.WriteString("\n  ")
		b.WriteString(fe.String())
	}
	return b.String()
}

// ExitCode is the CLI exit code for invalid input.
func (e *ValidationError) ExitCode() int { return 2 }

// sortFieldErrors orders errors by file, line and field so output is stable.
func sortFieldErrors(errs []FieldError) {
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i], errs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Field < b.Field
	})
}
