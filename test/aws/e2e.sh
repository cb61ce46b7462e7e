#!/usr/bin/env bash
# End-to-end run on a real AWS account: bring an environment up, wait until
# every node is Ready and every NLB target healthy, exercise the add-ons,
# then tear everything down. Proposed as `make e2e-aws`.
#
# Skips (exit 0, with a message) when no AWS credentials are available, so
# it is safe to call from CI machines that have none. It creates billable
# resources (an NLB, EC2 instances, EFS, a hosted zone) for ~30 minutes.
#
# Environment:
#   KFORGE_E2E_ENV   environment to use (default: dev); envs/<env>.yaml must
#                    name a domain whose delegation you control
#   KFORGE_E2E_KEEP  set to 1 to keep the cluster for inspection
#   KFORGE_BIN       kforge binary to use (default: build one into a temp dir)
set -euo pipefail
cd "$(dirname "$0")/../.."

env_name=${KFORGE_E2E_ENV:-dev}

if ! command -v aws >/dev/null 2>&1; then
  echo "e2e-aws: skipping: the AWS CLI is not installed, so credentials cannot be checked"
  exit 0
fi
if ! identity=$(aws sts get-caller-identity --output text --query Arn 2>/dev/null); then
  echo "e2e-aws: skipping: no AWS credentials (aws sts get-caller-identity failed); nothing was created"
  exit 0
fi
echo "e2e-aws: running as ${identity} against environment ${env_name}"

work=$(mktemp -d)
kforge=${KFORGE_BIN:-}
if [[ -z "${kforge}" ]]; then
  kforge="${work}/kforge"
  # Nodes run linux/amd64; the same binary is uploaded as the node agent.
  GOOS=linux GOARCH=amd64 CGO_ENABLED=0 go build -o "${kforge}" ./cmd/kforge
fi

teardown() {
  status=$?
  if [[ "${KFORGE_E2E_KEEP:-0}" == 1 ]]; then
    echo "e2e-aws: keeping ${env_name} (KFORGE_E2E_KEEP=1); remove it with: ${kforge} down ${env_name} --yes"
  else
    echo "e2e-aws: tearing down ${env_name}"
    "${kforge}" down "${env_name}" --yes || status=1
  fi
  rm -rf "${work}"
  exit "${status}"
}
trap teardown EXIT

start=$(date +%s)
"${kforge}" up "${env_name}" --yes --agent-binary "${kforge}"
applied=$(date +%s)

# Node readiness through the API and NLB target health; the agent logs each
# phase with its duration in the instances' journals (kforge-bootstrap).
"${kforge}" validate "${env_name}" --wait 25m
ready=$(date +%s)
echo "e2e-aws: terraform apply $((applied - start))s, cluster valid $((ready - applied))s after apply"

kubeconfig="${work}/admin.conf"
"${kforge}" kubeconfig "${env_name}" --file "${kubeconfig}"
export KUBECONFIG="${kubeconfig}"

kubectl get nodes -o wide
kubectl -n kube-system rollout status deployment/cluster-autoscaler --timeout=5m
kubectl -n kube-system rollout status deployment/efs-csi-controller --timeout=5m
kubectl -n kube-system rollout status deployment/metrics-server --timeout=5m
kubectl -n traefik rollout status daemonset/traefik --timeout=5m
kubectl get clusterissuers letsencrypt-staging letsencrypt-prod

# EFS through the CSI driver: a claim on efs-sc binds and a pod writes to it.
kubectl apply -f - <<'YAML'
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: e2e-efs}
spec:
  accessModes: [ReadWriteMany]
  storageClassName: efs-sc
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: e2e-efs}
spec:
  restartPolicy: Never
  containers:
  - name: write
    image: public.ecr.aws/docker/library/busybox:1.36
    command: [sh, -c, "echo ok > /data/probe && cat /data/probe"]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: e2e-efs}
YAML
kubectl wait --for=jsonpath='{.status.phase}'=Succeeded pod/e2e-efs --timeout=5m
kubectl delete pod/e2e-efs pvc/e2e-efs

# HTTP on the NLB is redirected to HTTPS (except ACME challenges).
domain=$("${kforge}" output "${env_name}" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_dns_name"].removeprefix("api."))')
code=$(curl -s -o /dev/null -w '%{http_code}' "http://${domain}/")
if [[ "${code}" != 301 && "${code}" != 308 ]]; then
  echo "e2e-aws: http://${domain}/ answered ${code}, want a redirect to HTTPS" >&2
  exit 1
fi
# HTTP-01 through Traefik: a staging certificate for the apex is issued,
# which needs the challenge path answered on port 80 despite the redirect.
kubectl apply -f - <<YAML
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: e2e-tls
  annotations: {cert-manager.io/cluster-issuer: letsencrypt-staging}
spec:
  ingressClassName: traefik
  tls: [{hosts: ["${domain}"], secretName: e2e-tls}]
  rules:
  - host: "${domain}"
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: kubernetes, port: {number: 443}}}}]}
YAML
kubectl wait --for=condition=Ready certificate/e2e-tls --timeout=10m
kubectl delete ingress/e2e-tls secret/e2e-tls
echo "e2e-aws: passed"
