// Package wait holds the context-aware waits the packages share: the sleep
// of those that poll or back off, and the read of a person's answer.
package wait

import (
	"bufio"
	"context"
	"io"
	"time"
)

// Sleep waits d, or returns ctx's error as soon as ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Line reads one line from r (a person's answer to a question), or returns
// ctx's error as soon as ctx ends: Ctrl-C at a question stops the run at
// once instead of after the next Enter. The read itself cannot be
// cancelled and goes on in the background, so r must be read by nothing
// else afterwards (a process's stdin just before it exits).
func Line(ctx context.Context, r io.Reader) (string, error) {
	type answer struct {
		line string
		err  error
	}
	read := make(chan answer, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		read <- answer{line, err}
	}()
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case a := <-read:
		return a.line, a.err
	}
}
