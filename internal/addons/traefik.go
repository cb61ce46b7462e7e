package addons

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kforge/kforge/internal/config"
)

const (
	// IngressClass is the class Traefik serves and the ACME solver uses.
	IngressClass = "traefik"
	// redirectPriority beats every rule-length priority Traefik gives an
	// ordinary Ingress router on the web entry point, so plain HTTP is
	// redirected; acmeSolverPriority beats the redirect, so HTTP-01
	// challenges under /.well-known/acme-challenge/ are answered on port 80.
	redirectPriority   = 100000
	acmeSolverPriority = 200000
)

// traefik runs Traefik as a DaemonSet on the workers of ingress pools, serving standard
// Ingress objects (no Traefik CRDs), exposed on the NodePorts the NLB
// forwards to. externalTrafficPolicy Local keeps the client IP (the NLB's
// instance targets pass it through) and lets the NLB health check send
// traffic only to nodes running Traefik.
func traefik(c Config) []runtime.Object {
	const name, ns = "traefik", "traefik"
	labels := map[string]string{"app.kubernetes.io/name": name}
	spec := corev1.PodSpec{
		// Only on pools with ingress: true, the ones in the NLB target groups
		// (the Terraform root module adds the label to those pools).
		NodeSelector:       map[string]string{config.IngressLabel: "true"},
		ServiceAccountName: name,
		// Cluster Autoscaler packs nodes full, and it adds no node for a
		// DaemonSet's pod: without a priority above the workloads', the
		// surge pod of a Traefik update (or its pod on a node that filled
		// up first) stayed Pending for good, holding the rollout with
		// maxUnavailable 0 and leaving a node behind the NLB without its
		// endpoint. With it, the scheduler preempts a workload's pod.
		PriorityClassName:             "system-cluster-critical",
		TerminationGracePeriodSeconds: ptr(int64(30)),
		SecurityContext:               &corev1.PodSecurityContext{RunAsNonRoot: ptr(true), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		Containers: []corev1.Container{{
			Name:  name,
			Image: TraefikImage,
			Args: []string{
				"--entryPoints.web.address=:8000/tcp",
				"--entryPoints.websecure.address=:8443/tcp",
				"--entryPoints.websecure.http.tls=true",
				"--entryPoints.traefik.address=:9000/tcp",
				// Redirect to the public port 443, not the container port.
				"--entryPoints.web.http.redirections.entryPoint.to=:443",
				"--entryPoints.web.http.redirections.entryPoint.scheme=https",
				"--entryPoints.web.http.redirections.entryPoint.permanent=true",
				fmt.Sprintf("--entryPoints.web.http.redirections.entryPoint.priority=%d", redirectPriority),
				"--providers.kubernetesingress=true",
				"--providers.kubernetesingress.ingressclass=" + IngressClass,
				// An Ingress's address is the domain, whose apex Route 53
				// aliases to the NLB. Copying the NodePort Service's would
				// give none: Traefik takes only the nodes' ExternalIPs, and
				// kforge's nodes have none (no cloud controller manager).
				"--providers.kubernetesingress.ingressendpoint.hostname=" + c.Domain,
				"--ping=true",
				"--ping.entryPoint=traefik",
				"--accesslog=true",
				"--log.level=INFO",
				"--global.checknewversion=false",
				"--global.sendanonymoususage=false",
			},
			Ports: []corev1.ContainerPort{
				{Name: "web", ContainerPort: 8000, Protocol: corev1.ProtocolTCP},
				{Name: "websecure", ContainerPort: 8443, Protocol: corev1.ProtocolTCP},
				{Name: "traefik", ContainerPort: 9000, Protocol: corev1.ProtocolTCP},
			},
			ReadinessProbe:  httpProbe("/ping", intstr.FromString("traefik"), corev1.URISchemeHTTP),
			LivenessProbe:   httpProbe("/ping", intstr.FromString("traefik"), corev1.URISchemeHTTP),
			Resources:       resources("100m", "256Mi"),
			SecurityContext: restricted(65532),
			VolumeMounts:    []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
		}},
		Volumes: []corev1.Volume{emptyDir("tmp")},
	}
	ds := daemonSet(name, ns, labels, spec)
	// The new pod starts, and turns ready, before the old one on its node
	// stops: with externalTrafficPolicy Local the node would otherwise have
	// no endpoint, and refuse NodePort connections, until the NLB's health
	// checks (3 x 10 s) took it out. A surge pod shares the node with the
	// old one, which works because Traefik binds no hostPort.
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{
		Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{
			MaxSurge:       ptr(intstr.FromInt32(1)),
			MaxUnavailable: ptr(intstr.FromInt32(0)),
		},
	}
	// Cluster Autoscaler evicts the DaemonSet pods of an occupied node it
	// removes (--daemonset-eviction-for-occupied-nodes defaults to true)
	// before the instance terminates, yet only termination deregisters the
	// node from the NLB: Traefik would stop while its target is registered
	// and healthy. Not evicted, it serves until the instance goes. The key
	// is daemonset.EnableDsEvictionKey (kubernetes/autoscaler,
	// cluster-autoscaler/utils/daemonset), read from the pods, not the
	// DaemonSet; see CA's FAQ, "How can I enable/disable eviction for a
	// specific DaemonSet".
	ds.Spec.Template.Annotations = map[string]string{"cluster-autoscaler.kubernetes.io/enable-ds-eviction": "false"}
	return []runtime.Object{
		namespace(ns),
		serviceAccount(name, ns, labels),
		clusterRole(name, labels,
			rule([]string{""}, []string{"services", "secrets", "nodes", "endpoints"}, readVerbs),
			rule([]string{"discovery.k8s.io"}, []string{"endpointslices"}, readVerbs),
			rule([]string{"networking.k8s.io"}, []string{"ingresses", "ingressclasses"}, readVerbs),
			rule([]string{"networking.k8s.io"}, []string{"ingresses/status"}, []string{"update"}),
		),
		clusterRoleBinding(name, name, name, ns, labels),
		&networkingv1.IngressClass{
			TypeMeta: typeMeta("networking.k8s.io/v1", "IngressClass"),
			ObjectMeta: metaWithAnnotations(IngressClass, "", labels, map[string]string{
				"ingressclass.kubernetes.io/is-default-class": "true",
			}),
			Spec: networkingv1.IngressClassSpec{Controller: "traefik.io/ingress-controller"},
		},
		ds,
		&corev1.Service{
			TypeMeta:   typeMeta("v1", "Service"),
			ObjectMeta: meta(name, ns, labels),
			Spec: corev1.ServiceSpec{
				Type:                  corev1.ServiceTypeNodePort,
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
				Selector:              labels,
				Ports: []corev1.ServicePort{
					{Name: "web", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("web"), NodePort: c.HTTPNodePort},
					{Name: "websecure", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("websecure"), NodePort: c.HTTPSNodePort},
				},
			},
		},
	}
}
