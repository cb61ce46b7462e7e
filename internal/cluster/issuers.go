package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kforge/kforge/internal/addons"
)

// IssuerState is one of the Let's Encrypt ClusterIssuers the control plane
// applies with the add-ons, as cert-manager reports it. Until one is Ready
// no certificate is issued through it, and Traefik serves its own
// self-signed certificate on every HTTPS host: the nodes and the NLB look
// healthy all the same.
type IssuerState struct {
	Name  string `json:"name"`
	Ready bool   `json:"ready"`
	// Reason says why it is not Ready: cert-manager's message (Let's
	// Encrypt refusing the account's e-mail address, say), or that the
	// issuer or cert-manager itself is not there yet.
	Reason string `json:"reason,omitempty"`
}

// Line is the issuer as validate prints it.
func (s IssuerState) Line() string {
	if s.Ready {
		return "issuer " + s.Name + " ready"
	}
	return "issuer " + s.Name + " not ready: " + s.Reason
}

// Problem is what validate reports for an issuer that is not Ready.
func (s IssuerState) Problem() string {
	if s.Ready {
		return ""
	}
	return fmt.Sprintf("ClusterIssuer %s is not Ready (%s): no certificate is issued through it", s.Name, s.Reason)
}

// addonsNotApplied is the reason given while cert-manager or kforge's
// issuers are missing: the control plane's add-on step has not finished.
const addonsNotApplied = "the control plane has not finished applying the add-ons; `journalctl -u kforge-addons` on it says why"

// kforgeIssuers are the ClusterIssuers the control plane applies.
var kforgeIssuers = []string{addons.StagingIssuer, addons.ProductionIssuer}

// clusterIssuers reads kforge's ClusterIssuers through
// GET /apis/cert-manager.io/v1/clusterissuers. installed is false when the
// API server serves no such kind (cert-manager's CRDs are not there).
func clusterIssuers(ctx context.Context, client *http.Client, server string) (states []IssuerState, installed bool, err error) {
	resp, err := apiGet(ctx, client, server, "/apis/cert-manager.io/v1/clusterissuers", "application/json", "listing ClusterIssuers")
	var status *apiStatusError
	if errors.As(err, &status) && status.Code == http.StatusNotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer resp.Close()
	body, err := io.ReadAll(io.LimitReader(resp, 4<<20))
	if err != nil {
		return nil, false, fmt.Errorf("reading ClusterIssuers from %s: %w", server, err)
	}
	var list struct {
		Items []struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
			Status   struct {
				Conditions []metav1.Condition `json:"conditions"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, false, fmt.Errorf("decoding the ClusterIssuer list: %w", err)
	}
	for _, name := range kforgeIssuers {
		s := IssuerState{Name: name, Reason: "it does not exist: " + addonsNotApplied}
		for _, it := range list.Items {
			if it.Metadata.Name != name {
				continue
			}
			s.Reason = "cert-manager has not reported on it yet"
			for _, c := range it.Status.Conditions {
				if c.Type != "Ready" {
					continue
				}
				s.Ready = c.Status == metav1.ConditionTrue
				s.Reason = strings.TrimSpace(c.Reason + ": " + c.Message)
				if s.Ready {
					s.Reason = ""
				}
			}
		}
		states = append(states, s)
	}
	return states, true, nil
}

// issuerStates is clusterIssuers with a missing cert-manager reported on
// each issuer; on an emulated cluster (the lab, which is offline and
// applies no downloaded add-on) it is nothing.
func issuerStates(ctx context.Context, client *http.Client, server string, emulated bool) ([]IssuerState, error) {
	states, installed, err := clusterIssuers(ctx, client, server)
	if err != nil || installed {
		return states, err
	}
	if emulated {
		return nil, nil
	}
	for _, name := range kforgeIssuers {
		states = append(states, IssuerState{Name: name, Reason: "cert-manager is not installed (the API server serves no ClusterIssuer kind): " + addonsNotApplied})
	}
	return states, nil
}
