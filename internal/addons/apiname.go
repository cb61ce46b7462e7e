package addons

import (
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// reservedAPIHostPolicy names the admission policy that keeps Ingresses off
// the API server's name.
const reservedAPIHostPolicy = "kforge-reserved-api-host"

// reservedAPIHost refuses Ingresses for the API server's name, api.<domain>,
// and every name under it. Inside the VPC that name is a private zone's,
// answering with the control plane's address, or NXDOMAIN below it (Route
// 53 does not fall back to the public zone), so such an Ingress worked from
// the Internet, through the public wildcard, but never got a certificate:
// cert-manager's HTTP-01 self-check, run inside the cluster, reached the
// control plane or no address at all, and Let's Encrypt was never asked.
// In-cluster clients calling the application by that name reached the API
// server instead. Refused at admission, the mistake is an error naming the
// fix, not a self-signed certificate found later. Nothing when apiHost is
// empty.
func reservedAPIHost(apiHost string) []runtime.Object {
	if apiHost == "" {
		return nil
	}
	// Ingress hosts are lower-case DNS names (the API server validates them),
	// so a plain comparison is exact; a wildcard *.api.<domain> ends in the
	// suffix too.
	allowed := func(host string) string {
		return fmt.Sprintf("%s != %q && !%s.endsWith(%q)", host, apiHost, host, "."+apiHost)
	}
	message := fmt.Sprintf("%s and the names under it belong to the cluster's Kubernetes API: inside the VPC they resolve to the control plane (a private Route 53 zone), so no certificate could be issued for them and in-cluster clients would reach the API server; use another host name under the domain", apiHost)
	return admissionPolicy(reservedAPIHostPolicy,
		admissionregistrationv1.Rule{APIGroups: []string{"networking.k8s.io"}, APIVersions: []string{"v1"}, Resources: []string{"ingresses"}},
		admissionregistrationv1.Deny,
		admissionregistrationv1.Validation{
			Expression: "!has(object.spec.rules) || object.spec.rules.all(r, !has(r.host) || (" + allowed("r.host") + "))",
			Message:    message,
			Reason:     ptr(metav1.StatusReasonInvalid),
		},
		admissionregistrationv1.Validation{
			Expression: "!has(object.spec.tls) || object.spec.tls.all(t, !has(t.hosts) || t.hosts.all(h, " + allowed("h") + "))",
			Message:    message,
			Reason:     ptr(metav1.StatusReasonInvalid),
		})
}
