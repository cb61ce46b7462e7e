// Package fuzz fuzzes the parsers of untrusted input outside the config
// package (which has FuzzLoad): Terraform's JSON stream as kforge reads it,
// the outputs decoder, and the Porkbun API answer decoder, whose errors must
// never carry any part of the API keys.
//
// Run one briefly: go test ./test/e2e/reliability/fuzz -run '^$' -fuzz FuzzPorkbunAnswer -fuzztime 30s
package fuzz

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kforge/kforge/internal/cluster"
	"github.com/kforge/kforge/internal/dns/porkbun"
	"github.com/kforge/kforge/internal/tfrun"
)

// FuzzTerraformStream feeds arbitrary bytes, split at an arbitrary point, to
// the JSON-lines reader kforge puts on terraform's -json output: no panic,
// and every error diagnostic it keeps renders.
func FuzzTerraformStream(f *testing.F) {
	seeds := []string{
		`{"@level":"error","@message":"Error: x","type":"diagnostic","diagnostic":{"severity":"error","summary":"Error acquiring the state lock","detail":"Lock Info:\n  ID:        1b2c\n  Path:      b/k\n  Operation: OperationTypeApply\n  Who:       me@host\n"}}` + "\n",
		`{"@level":"info","type":"apply_start","hook":{"resource":{"addr":"aws_vpc.this"},"action":"create"}}` + "\n" + `{"type":"apply_complete","hook":{"resource":{"addr":"aws_vpc.this"},"action":"create"}}` + "\n",
		`{"type":"diagnostic","diagnostic":null}` + "\n{not json}\n\n",
		`{"type":"diagnostic","diagnostic":{"severity":"error"`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), 7)
	}
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		var d tfrun.Diagnostics
		if cut < 0 {
			cut = -cut
		}
		if len(data) > 0 {
			cut %= len(data) + 1
		} else {
			cut = 0
		}
		if n, err := d.Write(data[:cut]); err != nil || n != cut {
			t.Fatalf("Write = %d, %v", n, err)
		}
		if n, err := d.Write(data[cut:]); err != nil || n != len(data)-cut {
			t.Fatalf("Write = %d, %v", n, err)
		}
		for _, e := range d.Errors() {
			if e.Severity != "error" {
				t.Fatalf("Errors returned severity %q", e.Severity)
			}
		}
		_ = d.String()
	})
}

// FuzzDecodeOutputs decodes arbitrary JSON as terraform output values.
func FuzzDecodeOutputs(f *testing.F) {
	f.Add([]byte(`{"cluster_name":"\"c\"","worker_asg_names":"{\"general\":\"c-general\"}","emulated":"true","name_servers":"[\"ns1\"]"}`))
	f.Add([]byte(`{"target_group_arns":"null","vpc_id":"5"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var outer map[string]string
		if json.Unmarshal(data, &outer) != nil {
			return
		}
		raw := map[string]json.RawMessage{}
		for k, v := range outer {
			raw[k] = json.RawMessage(v)
		}
		_, _, _ = cluster.DecodeOutputs(raw) // must not panic
	})
}

const (
	apiKey    = "pk1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
	secretKey = "sk1_fedcba9876543210fedcba9876543210fedcba9876543210fedcba98765432"
)

// echoesFragment reports whether body holds 12 or more characters of key
// other than as part of the whole key.
func echoesFragment(body, key string) bool {
	rest := strings.ReplaceAll(body, key, "")
	for i := 0; i+12 <= len(key); i++ {
		if strings.Contains(rest, key[i:i+12]) {
			return true
		}
	}
	return false
}

// FuzzPorkbunAnswer serves an arbitrary status and body to the Porkbun
// client, including bodies that echo the keys: no panic, and no error text
// holds 12 or more consecutive characters of either key.
func FuzzPorkbunAnswer(f *testing.F) {
	f.Add(200, []byte(`{"status":"SUCCESS","ns":["a.ns.example","b.ns.example"]}`))
	f.Add(400, []byte(`{"status":"ERROR","message":"Invalid API key. `+apiKey+`"}`))
	f.Add(500, []byte(`<html>oops `+secretKey+`</html>`))
	f.Add(200, []byte(strings.Repeat("x", 180)+secretKey))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 599 {
			status = 200 + (status%400+400)%400
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write(body)
		}))
		defer srv.Close()
		c, err := porkbun.New(porkbun.Credentials{APIKey: apiKey, SecretAPIKey: secretKey}, porkbun.Options{
			BaseURL: srv.URL, MaxAttempts: 1, Timeout: 5 * time.Second, MinInterval: time.Millisecond, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		_, err1 := c.NameServers(ctx, "example.com")
		err2 := c.SetNameServers(ctx, "example.com", []string{"a.ns.example", "b.ns.example"})
		for _, err := range []error{err1, err2} {
			if err == nil {
				continue
			}
			text := err.Error() + fmt.Sprintf(" %+v %#v", err, err)
			for _, key := range []string{apiKey, secretKey} {
				// A server that echoes part of a key leaves nothing to scrub
				// by; %#v prints the body Go-quoted, where an escape such as
				// \xf0 before an 11-character fragment makes a 12th.
				if echoesFragment(string(body), key) || echoesFragment(fmt.Sprintf("%q", body), key) {
					continue
				}
				for i := 0; i+12 <= len(key); i++ {
					if strings.Contains(text, key[i:i+12]) {
						t.Fatalf("error text leaks part of a key (%q): %s", key[i:i+12], text)
					}
				}
			}
		}
	})
}
