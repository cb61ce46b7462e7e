package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/kforge/kforge/internal/kubeadm"
)

// listedToken is what `kubeadm token list -o json` prints of a token.
type listedToken struct {
	Token       string    `json:"token"`
	Description string    `json:"description"`
	Expires     time.Time `json:"expires"`
}

// bootstrapTokens lists the cluster's bootstrap tokens by ID.
func bootstrapTokens(t *testing.T, e *env) map[string]listedToken {
	t.Helper()
	out, err := e.run(nil, "kubeadm", "token", "list", "--kubeconfig", adminConf, "-o", "json")
	if err != nil {
		t.Fatalf("kubeadm token list:\n%v", err)
	}
	tokens := map[string]listedToken{}
	dec := json.NewDecoder(bytes.NewReader([]byte(out)))
	for {
		var tok listedToken
		if err := dec.Decode(&tok); errors.Is(err, io.EOF) {
			return tokens
		} else if err != nil {
			t.Fatalf("decoding kubeadm token list: %v", err)
		}
		id, _, _ := strings.Cut(tok.Token, ".")
		tokens[id] = tok
	}
}

// 22. The token `kubeadm init` makes with kforge's init.yaml: the real
// bootstrap-token phase against the live API server makes exactly one,
// with kforge's description, expiring kubeadm.InitTokenTTL after it was
// made (kubeadm's default is 24 hours, and nothing uses it); the
// controller manager's tokencleaner, with kubeadm's flags, then deletes it.
func checkInitTokenExpires(t *testing.T, e *env, a artifacts) {
	before := bootstrapTokens(t, e)
	start := time.Now().Truncate(time.Second)
	if _, err := e.run(nil, "kubeadm", "init", "phase", "bootstrap-token", "--config", e.write("init.yaml", a.init), "--kubeconfig", adminConf, "--skip-token-print"); err != nil {
		t.Fatalf("kubeadm init phase bootstrap-token:\n%v", err)
	}
	made := ""
	for id, tok := range bootstrapTokens(t, e) {
		if _, ok := before[id]; ok {
			continue
		}
		if made != "" {
			t.Fatalf("kubeadm init made the tokens %s and %s: want one", made, id)
		}
		made = id
		if tok.Description != kubeadm.InitTokenDescription {
			t.Errorf("init's token %s: description %q, want %q", id, tok.Description, kubeadm.InitTokenDescription)
		}
		if latest := time.Now().Add(kubeadm.InitTokenTTL); tok.Expires.Before(start) || tok.Expires.After(latest) {
			t.Fatalf("init's token %s expires at %s: want at most %s after it was made (by %s)", id, tok.Expires.Format(time.RFC3339), kubeadm.InitTokenTTL, latest.Format(time.RFC3339))
		}
	}
	if made == "" {
		t.Fatal("kubeadm init phase bootstrap-token made no token")
	}
	if err := waitFor(kubeadm.InitTokenTTL+2*time.Minute, func() error {
		if _, ok := bootstrapTokens(t, e)[made]; ok {
			return fmt.Errorf("init's token %s is still in kube-system", made)
		}
		return nil
	}); err != nil {
		t.Fatalf("the controller manager's tokencleaner: %v", err)
	}
}
