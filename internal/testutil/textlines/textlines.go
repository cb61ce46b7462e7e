// Package textlines cuts long command output down to what a test failure
// or log needs to show.
package textlines

import "strings"

// Last returns the last n lines of s, without its trailing newlines.
func Last(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
