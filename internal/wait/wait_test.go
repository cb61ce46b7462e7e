package wait

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("a short sleep: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("a sleep in an ended context: got %v, want context.Canceled", err)
	}
}

// Line returns the answer once a line comes, and ctx's error as soon as
// ctx ends while nobody answers.
func TestLine(t *testing.T) {
	if got, err := Line(context.Background(), strings.NewReader("yes\nmore\n")); got != "yes\n" || err != nil {
		t.Errorf("Line = %q, %v; want the first line", got, err)
	}
	silent, _ := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Line(ctx, silent)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Line with nobody answering, ctx cancelled: %v, want context.Canceled", err)
	}
}
