package addons

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// admissionPolicy is a ValidatingAdmissionPolicy on creates and updates of
// one resource, and its binding for the whole cluster with action. A policy
// that only warns ignores its own failures: the API server denies every
// matched request while a policy with failurePolicy Fail cannot be
// configured (its type check failed, say), whatever the binding's action.
func admissionPolicy(name string, rule admissionregistrationv1.Rule, action admissionregistrationv1.ValidationAction, validations ...admissionregistrationv1.Validation) []runtime.Object {
	labels := map[string]string{"app.kubernetes.io/name": name}
	fail := admissionregistrationv1.Fail
	if action == admissionregistrationv1.Warn {
		fail = admissionregistrationv1.Ignore
	}
	return []runtime.Object{
		&admissionregistrationv1.ValidatingAdmissionPolicy{
			TypeMeta:   typeMeta("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"),
			ObjectMeta: meta(name, "", labels),
			Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
				FailurePolicy: &fail,
				MatchConstraints: &admissionregistrationv1.MatchResources{
					ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
						RuleWithOperations: admissionregistrationv1.RuleWithOperations{
							Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
							Rule:       rule,
						},
					}},
				},
				Validations: validations,
			},
		},
		&admissionregistrationv1.ValidatingAdmissionPolicyBinding{
			TypeMeta:   typeMeta("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"),
			ObjectMeta: meta(name, "", labels),
			Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
				PolicyName:        name,
				ValidationActions: []admissionregistrationv1.ValidationAction{action},
			},
		},
	}
}

// loadBalancerServicesPolicy names the admission policy that warns of
// Services of type LoadBalancer.
const loadBalancerServicesPolicy = "kforge-no-load-balancer-services"

// LoadBalancerServiceWarning is what kubectl prints when a Service of type
// LoadBalancer is created or updated.
const LoadBalancerServiceWarning = "kforge clusters run no controller for Services of type LoadBalancer " +
	"(no cloud controller manager, no AWS Load Balancer Controller): this Service's EXTERNAL-IP stays <pending> " +
	"and no security group admits its node ports from outside the cluster; expose HTTP and HTTPS through an " +
	"Ingress (class traefik), reached through the cluster's Network Load Balancer"

// loadBalancerServices warns, without refusing, of a Service of type
// LoadBalancer: nothing in the cluster provisions one, so such a Service
// (a Helm chart's default, often) would wait for an address forever with
// no event saying why. A warning, not a refusal, because charts create them
// unasked and their ClusterIP and in-cluster use still work.
func loadBalancerServices() []runtime.Object {
	return admissionPolicy(loadBalancerServicesPolicy,
		admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"services"}},
		admissionregistrationv1.Warn,
		admissionregistrationv1.Validation{
			Expression: "!has(object.spec.type) || object.spec.type != 'LoadBalancer'",
			Message:    LoadBalancerServiceWarning,
		})
}
