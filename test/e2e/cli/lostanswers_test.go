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

// answerLosingProxy stands between kforge and the emulator and forwards
// every request. For each lostAnswer it lets the emulator carry out the
// first matching request, then resets the client's connection instead of
// answering: what a dropped connection does to a create on AWS. The SDK
// retries, and the retry meets what the first attempt made. It returns the
// proxy's URL and a function listing the answers it has lost so far.
func answerLosingProxy(t *testing.T, upstream string, lose ...lostAnswer) (string, func() []lostAnswer) {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	forward := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	var lost []lostAnswer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		mu.Lock()
		var drop *lostAnswer
		for i, l := range lose {
			if slices.Contains(lost, l) || form.Get("Action") != l.Action {
				continue
			}
			if l.Value == "" || form.Get(l.Field) == l.Value {
				drop = &lose[i]
				lost = append(lost, l)
				break
			}
		}
		mu.Unlock()
		if drop == nil {
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
	return srv.URL, func() []lostAnswer {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(lost)
	}
}
