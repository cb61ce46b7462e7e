package cli_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"testing"
)

// lostAnswer names one request whose answer the proxy loses: the first
// request with this Action whose form has Field = Value (any value when
// Value is empty).
type lostAnswer struct {
	Action, Field, Value string
}

// losingProxy stands between kforge and the emulator and forwards every
// request. For each lostAnswer armed with Lose it lets the emulator carry
// out the first matching request, then resets the client's connection
// instead of answering: what a dropped connection does on AWS. The SDK
// retries, and the retry meets what the first attempt did.
type losingProxy struct {
	URL string

	mu    sync.Mutex
	armed []lostAnswer
	lost  []lostAnswer
}

func newLosingProxy(t *testing.T, upstream string) *losingProxy {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	p := &losingProxy{}
	forward := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		drop, ok := p.take(form)
		if !ok {
			forward.ServeHTTP(w, r)
			return
		}
		// Carry the request out, then reset the connection unanswered.
		rec := httptest.NewRecorder()
		forward.ServeHTTP(rec, r)
		t.Logf("lost the answer to %s %s=%s (the emulator answered %d)", drop.Action, drop.Field, form.Get(drop.Field), rec.Code)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijacking the connection to lose an answer: %v", err)
			return
		}
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0) // a reset, as a dropped connection gives
		}
		_ = conn.Close()
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Lose arms answers to lose, each once, from now on.
func (p *losingProxy) Lose(answers ...lostAnswer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed = append(p.armed, answers...)
}

// Lost lists the answers lost so far.
func (p *losingProxy) Lost() []lostAnswer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lost)
}

// take disarms and returns the armed answer the request matches, if any.
func (p *losingProxy) take(form url.Values) (lostAnswer, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, l := range p.armed {
		if form.Get("Action") == l.Action && (l.Value == "" || form.Get(l.Field) == l.Value) {
			p.armed = slices.Delete(p.armed, i, i+1)
			p.lost = append(p.lost, l)
			return l, true
		}
	}
	return lostAnswer{}, false
}
