package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/kforge/kforge/internal/addons"
	"github.com/kforge/kforge/internal/testutil/kubeapi"
	"github.com/kforge/kforge/internal/upstream"
)

var (
	crdResource    = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	issuerResource = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "clusterissuers"}
)

// validate reads kforge's ClusterIssuers from a real API server with
// cert-manager's pinned CRD: missing cert-manager, missing issuers, an
// issuer cert-manager has not reported on and one Let's Encrypt refused
// are problems naming why; both Ready is none.
func TestValidateReportsTheLetsEncryptIssuers(t *testing.T) {
	kube := kubeapi.StartServer(t)
	ctx := context.Background()
	client, err := rest.HTTPClientFor(kube.AdminConfig)
	if err != nil {
		t.Fatal(err)
	}
	server := kube.AdminConfig.Host
	dyn, err := dynamic.NewForConfig(kube.AdminConfig)
	if err != nil {
		t.Fatal(err)
	}
	problems := func(emulated bool) []string {
		t.Helper()
		states, err := issuerStates(ctx, client, server, emulated)
		if err != nil {
			t.Fatal(err)
		}
		r := ValidationResult{Nodes: []NodeState{{Name: "n", Ready: true}}, Issuers: states}
		r.evaluate()
		return r.Problems
	}
	expect := func(what string, got []string, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: problems %q, want %d", what, got, len(want))
		}
		for i, w := range want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s: problem %q does not say %q", what, got[i], w)
			}
		}
	}

	expect("no cert-manager", problems(false),
		"ClusterIssuer letsencrypt-staging is not Ready (cert-manager is not installed", "ClusterIssuer letsencrypt-prod is not Ready (cert-manager is not installed")
	expect("no cert-manager on an emulated cluster", problems(true))

	rel := "cert-manager/crds/cert-manager.io_clusterissuers.yaml"
	data, err := os.ReadFile(filepath.Join("..", "upstream", rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := upstream.Verify(rel, data); err != nil {
		t.Fatal(err)
	}
	var crd unstructured.Unstructured
	if err := yaml.Unmarshal(data, &crd.Object); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(crdResource).Create(ctx, &crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := dyn.Resource(issuerResource).List(ctx, metav1.ListOptions{}); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the ClusterIssuer kind is not served a minute after its CRD was created: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	expect("no issuers", problems(true), "letsencrypt-staging is not Ready (it does not exist: the control plane has not finished applying the add-ons", "letsencrypt-prod is not Ready (it does not exist")

	rendered, err := addons.RenderIssuers(addons.Config{ClusterName: "dev", Region: "eu-west-1", Domain: "dev.example.com",
		EFSID: "fs-0123456789abcdef0", ACMEEmail: "ops@example.com", HTTPNodePort: 30080, HTTPSNodePort: 30443})
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(rendered), "\n---\n") {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		if _, err := dyn.Resource(issuerResource).Create(ctx, &u, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating %s: %v", u.GetName(), err)
		}
	}
	expect("issuers without a status", problems(false), "letsencrypt-staging is not Ready (cert-manager has not reported on it yet)", "letsencrypt-prod is not Ready (cert-manager has not reported on it yet)")

	// What cert-manager writes when Let's Encrypt refuses the account.
	refused := "Failed to register ACME account: 400 urn:ietf:params:acme:error:invalidContact: Error creating new account :: contact email has forbidden domain \"example.com\""
	setReady(t, dyn, addons.StagingIssuer, "True", "ACMEAccountRegistered", "The ACME account was registered with the ACME server")
	setReady(t, dyn, addons.ProductionIssuer, "False", "ErrRegisterACMEAccount", refused)
	expect("a refused account", problems(false), "ClusterIssuer letsencrypt-prod is not Ready (ErrRegisterACMEAccount: "+refused+"): no certificate is issued through it")

	setReady(t, dyn, addons.ProductionIssuer, "True", "ACMEAccountRegistered", "The ACME account was registered with the ACME server")
	expect("both Ready", problems(false))
	states, _ := issuerStates(ctx, client, server, false)
	r := ValidationResult{Issuers: states}
	if got := strings.Join(r.Lines(), "\n"); got != "issuer letsencrypt-staging ready\nissuer letsencrypt-prod ready" {
		t.Errorf("validate prints %q", got)
	}
}

// setReady writes the Ready condition cert-manager writes on an issuer.
func setReady(t *testing.T, dyn dynamic.Interface, name, status, reason, message string) {
	t.Helper()
	ctx := context.Background()
	u, err := dyn.Resource(issuerResource).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cond := map[string]any{"type": "Ready", "status": status, "reason": reason, "message": message,
		"lastTransitionTime": time.Now().UTC().Format(time.RFC3339), "observedGeneration": u.GetGeneration()}
	if err := unstructured.SetNestedSlice(u.Object, []any{cond}, "status", "conditions"); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(issuerResource).UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("writing %s's status: %v", name, err)
	}
}
