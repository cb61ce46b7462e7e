package conformance

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// 21. The API server, running kforge's admission policy from the add-on
// manifests, refuses an Ingress for api.<domain>, for a name under it or
// with it among its TLS hosts, naming why; other hosts of the domain, one
// merely ending in "api.<domain>" among them, are admitted.
func checkReservedAPIHost(t *testing.T, e *env, a artifacts) {
	api := a.addonCfg.APIHost
	domain := a.addonCfg.Domain
	ingress := func(name string, hosts, tlsHosts []string) string {
		var rules []map[string]any
		for _, h := range hosts {
			rule := map[string]any{"http": map[string]any{"paths": []map[string]any{{
				"path": "/", "pathType": "Prefix",
				"backend": map[string]any{"service": map[string]any{"name": "app", "port": map[string]any{"number": 80}}},
			}}}}
			if h != "" {
				rule["host"] = h
			}
			rules = append(rules, rule)
		}
		spec := map[string]any{"ingressClassName": "traefik", "rules": rules}
		if tlsHosts != nil {
			spec["tls"] = []map[string]any{{"hosts": tlsHosts, "secretName": name + "-tls"}}
		}
		raw, _ := json.Marshal(map[string]any{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
			"metadata": map[string]any{"name": name, "namespace": "default"}, "spec": spec})
		return e.write("ingress-"+name+".json", raw)
	}
	dryRun := func(path string) error {
		_, err := e.kubectl("create", "--dry-run=server", "-f", path)
		return err
	}
	// A new policy takes effect once the API server has loaded it.
	apex := ingress("api", []string{api}, nil)
	err := waitFor(time.Minute, func() error {
		if err := dryRun(apex); err == nil {
			return fmt.Errorf("an Ingress for %s was admitted", api)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("kforge's policy never refused an Ingress for the API server's name: %v", err)
	}
	for name, path := range map[string]string{
		"host " + api:             apex,
		"host v1." + api:          ingress("under-api", []string{"v1." + api}, nil),
		"host *." + api:           ingress("wildcard-api", []string{"*." + api}, nil),
		"TLS host " + api:         ingress("tls-api", []string{"app." + domain}, []string{"app." + domain, api}),
		"second rule host " + api: ingress("second-rule", []string{"app." + domain, api}, nil),
	} {
		err := dryRun(path)
		if err == nil || !strings.Contains(err.Error(), "belong to the cluster's Kubernetes API") || !strings.Contains(err.Error(), "kforge-reserved-api-host") {
			t.Errorf("an Ingress with %s: %v, want a refusal by kforge-reserved-api-host naming why", name, err)
		}
	}
	for name, path := range map[string]string{
		"host app." + domain:   ingress("app", []string{"app." + domain}, []string{"app." + domain}),
		"host myapi." + domain: ingress("myapi", []string{"my" + api}, nil),
		"no host":              ingress("default-backend", []string{""}, nil),
	} {
		if err := dryRun(path); err != nil {
			t.Errorf("an Ingress with %s was refused: %v", name, err)
		}
	}
}
