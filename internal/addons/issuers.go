package addons

import (
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Let's Encrypt ACME directories.
const (
	LetsEncryptStaging    = "https://acme-staging-v02.api.letsencrypt.org/directory"
	LetsEncryptProduction = "https://acme-v02.api.letsencrypt.org/directory"
)

// ClusterIssuer mirrors the fields kforge sets of cert-manager.io/v1
// ClusterIssuer (cert-manager's types are not a dependency).
type ClusterIssuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              IssuerSpec `json:"spec"`
}

// IssuerSpec mirrors cert-manager IssuerSpec (ACME only).
type IssuerSpec struct {
	ACME *ACMEIssuer `json:"acme"`
}

// ACMEIssuer mirrors cert-manager ACMEIssuer.
type ACMEIssuer struct {
	Email               string              `json:"email"`
	Server              string              `json:"server"`
	PrivateKeySecretRef SecretKeySelector   `json:"privateKeySecretRef"`
	Solvers             []ACMEChallengeSolv `json:"solvers"`
}

// SecretKeySelector mirrors cert-manager's cmmeta SecretKeySelector.
type SecretKeySelector struct {
	Name string `json:"name"`
}

// ACMEChallengeSolv mirrors cert-manager ACMEChallengeSolver (HTTP-01 only).
type ACMEChallengeSolv struct {
	HTTP01 *ACMEChallengeSolverHTTP01 `json:"http01"`
}

// ACMEChallengeSolverHTTP01 mirrors cert-manager's type.
type ACMEChallengeSolverHTTP01 struct {
	Ingress *ACMEChallengeSolverHTTP01Ingress `json:"ingress"`
}

// ACMEChallengeSolverHTTP01Ingress mirrors cert-manager's type.
type ACMEChallengeSolverHTTP01Ingress struct {
	IngressClassName *string                                   `json:"ingressClassName"`
	ServiceType      string                                    `json:"serviceType,omitempty"`
	IngressTemplate  *ACMEChallengeSolverHTTP01IngressTemplate `json:"ingressTemplate,omitempty"`
}

// ACMEChallengeSolverHTTP01IngressTemplate mirrors cert-manager's type.
type ACMEChallengeSolverHTTP01IngressTemplate struct {
	Metadata ACMEChallengeSolverHTTP01IngressObjectMeta `json:"metadata"`
}

// ACMEChallengeSolverHTTP01IngressObjectMeta mirrors cert-manager's type.
type ACMEChallengeSolverHTTP01IngressObjectMeta struct {
	Annotations map[string]string `json:"annotations,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}

// The ClusterIssuers kforge applies, by name.
const (
	StagingIssuer    = "letsencrypt-staging"
	ProductionIssuer = "letsencrypt-prod"
)

// clusterIssuers are letsencrypt-staging and letsencrypt-prod, solving
// HTTP-01 through Traefik on the web entry point, ahead of the redirect.
func clusterIssuers(c Config) []ClusterIssuer {
	class := IngressClass
	solver := ACMEChallengeSolv{HTTP01: &ACMEChallengeSolverHTTP01{Ingress: &ACMEChallengeSolverHTTP01Ingress{
		IngressClassName: &class,
		// Traefik routes to the solver pod's endpoints; cert-manager's
		// default, a NodePort Service, opened a port on every node for
		// each challenge that nothing uses.
		ServiceType: "ClusterIP",
		IngressTemplate: &ACMEChallengeSolverHTTP01IngressTemplate{Metadata: ACMEChallengeSolverHTTP01IngressObjectMeta{
			Annotations: map[string]string{
				"traefik.ingress.kubernetes.io/router.entrypoints": "web",
				"traefik.ingress.kubernetes.io/router.priority":    strconv.Itoa(acmeSolverPriority),
			},
		}},
	}}}
	mk := func(name, server string) ClusterIssuer {
		return ClusterIssuer{
			TypeMeta:   metav1.TypeMeta{APIVersion: "cert-manager.io/v1", Kind: "ClusterIssuer"},
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: IssuerSpec{ACME: &ACMEIssuer{
				Email:               c.ACMEEmail,
				Server:              server,
				PrivateKeySecretRef: SecretKeySelector{Name: name + "-account-key"},
				Solvers:             []ACMEChallengeSolv{solver},
			}},
		}
	}
	return []ClusterIssuer{mk(StagingIssuer, LetsEncryptStaging), mk(ProductionIssuer, LetsEncryptProduction)}
}
