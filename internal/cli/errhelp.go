package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/config"
)

// docAnnotation on a command names the page that explains its failures
// (for it and its subcommands).
const docAnnotation = "kforge.doc"

// withDocPage sets the page that explains cmd's failures and returns cmd.
func withDocPage(cmd *cobra.Command, page string) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[docAnnotation] = page
	return cmd
}

// helpHint is the line a printed error ends with, "" for none: the
// configuration reference, the page that explains a failure of a command
// that ran, --help for other bad input (exit code 2), and nothing for other
// failures, whose error says what to do.
func helpHint(cmd *cobra.Command, err error, code int, ran bool) string {
	var ve *config.ValidationError
	if errors.As(err, &ve) {
		return "See docs/CONFIG.md for every key, default and rule."
	}
	for c := cmd; ran && c != nil; c = c.Parent() {
		if page := c.Annotations[docAnnotation]; page != "" {
			return fmt.Sprintf("See %s.", page)
		}
	}
	if code == ExitUsage {
		return fmt.Sprintf("Run '%s --help' for usage.", cmd.CommandPath())
	}
	return ""
}
