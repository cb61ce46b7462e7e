package tfrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Progress is one step of an apply or destroy, read from Terraform's JSON
// stream.
type Progress struct {
	// Done counts resources finished (completed or failed); Total is the
	// number of changes planned (0 when unknown).
	Done, Total int
	// Resource is the address of the resource this event is about.
	Resource string
	// Action is create, update, delete, replace, read...
	Action string
	// Event is start, progress, complete or errored.
	Event string
	// Elapsed is the time since the run began.
	Elapsed time.Duration
}

// streamMessage is the subset of Terraform's machine-readable UI message we use.
type streamMessage struct {
	Level   string `json:"@level"`
	Message string `json:"@message"`
	Type    string `json:"type"`
	Hook    struct {
		Resource struct {
			Addr string `json:"addr"`
		} `json:"resource"`
		Action string `json:"action"`
	} `json:"hook"`
	Change struct {
		Resource struct {
			Addr   string `json:"addr"`
			Module string `json:"module"`
		} `json:"resource"`
		Action string `json:"action"`
	} `json:"change"`
	Diagnostic *Diagnostic `json:"diagnostic"`
}

// Diagnostic is an error or warning Terraform reported.
type Diagnostic struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail"`
	Address  string `json:"address"`
}

// Diagnostics collects the diagnostics of a JSON stream written to it.
type Diagnostics struct {
	mu    sync.Mutex
	lines messageLines
	items []Diagnostic
}

// Write implements io.Writer over the JSON-lines stream.
func (d *Diagnostics) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lines.feed(p, func(m streamMessage) {
		if m.Diagnostic != nil {
			d.items = append(d.items, *m.Diagnostic)
		}
	})
	return len(p), nil
}

// messageLines splits a JSON-lines stream written in pieces into messages;
// a line that is not a message is skipped.
type messageLines struct{ buf []byte }

// feed takes the next piece of the stream and calls each for every message
// it completes.
func (l *messageLines) feed(p []byte, each func(streamMessage)) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return
		}
		var m streamMessage
		if json.Unmarshal(l.buf[:i], &m) == nil {
			each(m)
		}
		l.buf = l.buf[i+1:]
	}
}

// Errors returns the error diagnostics.
func (d *Diagnostics) Errors() []Diagnostic {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Diagnostic
	for _, x := range d.items {
		if x.Severity == "error" {
			out = append(out, x)
		}
	}
	return out
}

func (d *Diagnostics) String() string {
	var b strings.Builder
	for _, x := range d.Errors() {
		b.WriteString("  Error: " + x.Summary)
		if x.Address != "" {
			b.WriteString(" (" + x.Address + ")")
		}
		if x.Detail != "" {
			b.WriteString("\n    " + strings.ReplaceAll(strings.TrimSpace(x.Detail), "\n", "\n    "))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// tracker turns an apply/destroy JSON stream into Progress events and keeps
// its diagnostics.
type tracker struct {
	Diagnostics
	start   time.Time
	total   int
	done    int
	planned map[string]string // address: planned action
	// halfDone are the replaced resources whose first half (the delete,
	// or the create of create_before_destroy) completed: a replace is
	// done at its second completion.
	halfDone map[string]bool
	report   func(Progress)
	lines    messageLines
	diags    *Diagnostics
}

func newTracker(total int, report func(Progress)) *tracker {
	t := &tracker{start: time.Now(), total: total, report: report, planned: map[string]string{}, halfDone: map[string]bool{}}
	t.diags = &t.Diagnostics
	return t
}

func (t *tracker) Write(p []byte) (int, error) {
	t.Diagnostics.Write(p)
	t.lines.feed(p, t.handle)
	return len(p), nil
}

func (t *tracker) handle(m streamMessage) {
	ev := Progress{Resource: m.Hook.Resource.Addr, Action: m.Hook.Action}
	if m.Hook.Action == "read" {
		return // data sources: not resources being changed
	}
	switch m.Type {
	case "planned_change":
		// A destroy plans first; its planned changes give the total when
		// the caller did not know it.
		if m.Change.Action != "noop" && m.Change.Action != "read" {
			t.planned[m.Change.Resource.Addr] = m.Change.Action
			if len(t.planned) > t.total {
				t.total = len(t.planned)
			}
		}
		return
	case "apply_start":
		ev.Event = "start"
	case "apply_progress":
		ev.Event = "progress"
	case "apply_complete":
		ev.Event = "complete"
		addr := m.Hook.Resource.Addr
		if t.planned[addr] == "replace" && !t.halfDone[addr] {
			t.halfDone[addr] = true
			break
		}
		t.done++
	case "apply_errored":
		ev.Event = "errored"
		t.done++
	default:
		return
	}
	if t.report == nil {
		return
	}
	ev.Done, ev.Total = t.done, t.total
	if ev.Total < ev.Done {
		ev.Total = ev.Done
	}
	ev.Elapsed = time.Since(t.start).Truncate(time.Second)
	t.report(ev)
}

// LockError says the state is locked by another run.
type LockError struct {
	Env, ID, Path, Operation, Who, Created string
}

func (e *LockError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the state of environment %q is locked by another run", e.Env)
	fmt.Fprintf(&b, "\n  lock ID:   %s", e.ID)
	if e.Path != "" {
		fmt.Fprintf(&b, "\n  path:      %s", e.Path)
	}
	if e.Operation != "" {
		fmt.Fprintf(&b, "\n  operation: %s", e.Operation)
	}
	if e.Who != "" {
		fmt.Fprintf(&b, "\n  held by:   %s", e.Who)
	}
	if e.Created != "" {
		fmt.Fprintf(&b, "\n  since:     %s", e.Created)
	}
	fmt.Fprintf(&b, "\nWait for that run to finish. If no run is active (one was killed), release the stale lock with:\n  kforge unlock %s %s", e.Env, e.ID)
	return b.String()
}

var lockField = regexp.MustCompile(`(?m)^\s*(ID|Path|Operation|Who|Created):\s*(.*?)\s*$`)

// parseLockError finds Terraform's "Error acquiring the state lock" report.
func parseLockError(env, text string) *LockError {
	if !strings.Contains(text, "Error acquiring the state lock") && !strings.Contains(text, "Lock Info:") {
		return nil
	}
	i := strings.Index(text, "Lock Info:")
	if i < 0 {
		return nil
	}
	e := &LockError{Env: env}
	for _, m := range lockField.FindAllStringSubmatch(text[i:], -1) {
		switch m[1] {
		case "ID":
			if e.ID == "" {
				e.ID = m[2]
			}
		case "Path":
			e.Path = m[2]
		case "Operation":
			e.Operation = m[2]
		case "Who":
			e.Who = m[2]
		case "Created":
			e.Created = m[2]
		}
	}
	if e.ID == "" {
		return nil
	}
	return e
}

// explain turns a failed run into an error a user can act on.
func (r *Runner) explain(verb string, err error, diags *Diagnostics) error {
	if errors.Is(err, context.Canceled) {
		var exit *exec.ExitError
		if errors.Is(err, exec.ErrWaitDelay) || (errors.As(err, &exit) && !exit.Exited()) {
			return fmt.Errorf("terraform %s was killed after Ctrl-C before it stopped by itself: resources it was creating may be missing from the state, and the state lock may still be held (the next run names it; `kforge unlock %s <lock-id>` releases it): %w", verb, r.opts.EnvName, ErrInterrupted)
		}
		return fmt.Errorf("terraform %s stopped cleanly after Ctrl-C (state saved, lock released; run the command again to continue): %w", verb, ErrInterrupted)
	}
	text := err.Error()
	if diags != nil {
		text = diags.String() + "\n" + text
	}
	if le := parseLockError(r.opts.EnvName, text); le != nil {
		return le
	}
	if diags != nil && len(diags.Errors()) > 0 {
		return fmt.Errorf("terraform %s failed (log in %s):\n%s", verb, r.logDir, strings.TrimRight(diags.String(), "\n"))
	}
	return fmt.Errorf("terraform %s: %w", verb, err)
}
