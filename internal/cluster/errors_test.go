package cluster

import (
	"errors"
	"fmt"
	"testing"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/tfrun"
)

func TestExitCode(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("boom"), ExitFailure},
		{UsageError("bad %s", "flag"), ExitUsage},
		{Failure("no %s", "cluster"), ExitFailure},
		{fmt.Errorf("opening: %w", UsageError("bad")), ExitUsage},
		{fmt.Errorf("loading: %w", &config.ValidationError{Errors: []config.FieldError{{Field: "name"}}}), ExitUsage},
		{fmt.Errorf("apply: %w", tfrun.ErrInterrupted), ExitInterrupted},
		{&ExitError{Code: 2, Err: errors.New("the plan has changes"), Silent: true}, 2},
	}
	for _, c := range cases {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}
