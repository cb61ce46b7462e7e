package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/config"
)

// docAnnotation on a command names the page that explains its failures
// (for it and its subcommands); bad input still points at --help.
const docAnnotation = "kforge.doc"

// withDocPage sets the page that explains cmd's failures and returns cmd.
func withDocPage(cmd *cobra.Command, page string) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[docAnnotation] = page
	return cmd
}

// helpHint is the line every printed error ends with: where to read more.
// ran says the command had started (its input was accepted).
func helpHint(cmd *cobra.Command, err error, ran bool) string {
	var ve *config.ValidationError
	if errors.As(err, &ve) {
		return "See docs/CONFIG.md for every key, default and rule."
	}
	if ran {
		for c := cmd; c != nil; c = c.Parent() {
			if page := c.Annotations[docAnnotation]; page != "" {
				return fmt.Sprintf("See %s.", page)
			}
		}
	}
	path := "kforge"
	if cmd != nil {
		path = cmd.CommandPath()
	}
	return fmt.Sprintf("Run '%s --help' for usage.", path)
}
