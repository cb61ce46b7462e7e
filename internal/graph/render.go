package graph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Formats lists the output formats Render accepts.
var Formats = []string{"dot", "svg", "png"}

// Render turns DOT into the given format: "dot" returns it unchanged,
// "svg" and "png" run Graphviz's dot, which must be on PATH.
func Render(ctx context.Context, dotSource, format string) ([]byte, error) {
	switch format {
	case "dot", "":
		return []byte(dotSource), nil
	case "svg", "png":
	default:
		return nil, fmt.Errorf("unknown graph format %q: use one of %s", format, strings.Join(Formats, ", "))
	}
	bin, err := exec.LookPath("dot")
	if err != nil {
		return nil, errors.New("graphviz `dot` is not installed: install it (apt-get install graphviz) or use --format dot")
	}
	cmd := exec.CommandContext(ctx, bin, "-T"+format)
	cmd.Stdin = strings.NewReader(dotSource)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("running dot -T%s: %w: %s", format, err, strings.TrimSpace(stderr.String()))
	}
	return out.Bytes(), nil
}

// CheckRenderer reports, before any work, whether format can be rendered
// here: "svg" and "png" need Graphviz's dot on PATH.
func CheckRenderer(format string) error {
	if format == "svg" || format == "png" {
		if _, err := exec.LookPath("dot"); err != nil {
			return fmt.Errorf("--format %s needs graphviz `dot`, which is not installed: apt-get install graphviz, or use --format dot", format)
		}
	}
	return nil
}
