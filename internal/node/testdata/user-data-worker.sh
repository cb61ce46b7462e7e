#!/bin/bash
# kforge node user data (rendered by the root module with templatefile()).
# Picks the node agent built for this machine's architecture (uname -m),
# fetches it from the certs bucket's bootstrap prefix with the AWS CLI that
# Amazon Linux 2023 ships (instance role, IMDSv2), refuses it unless its
# SHA-256 matches the one pinned here, installs it with its systemd units and starts
# kforge-bootstrap.service, which owns the bootstrap and its retries. No
# secret is here: the agent reads the join material and PKI later, with the
# instance role and the cluster's KMS key.
set -euo pipefail
# Kubernetes 1.36.6: what this node installs (cluster.json says
# the same). Named here so that a version change makes a new launch template
# version, which `kforge roll` (and `kforge upgrade`) then replaces.
# Pool labels and taints 0123456789abcdef: set by kubeadm join, so a digest
# of them is named here for the same reason (`kforge roll --pool`).
# Output goes to the log file and to cloud-init's output, which reaches the
# serial console (aws ec2 get-console-output).
exec > >(tee -a /var/log/kforge-user-data.log) 2>&1

# Without the agent nothing can retry: power off so the Auto Scaling
# group's EC2 health check replaces this instance.
give_up() {
  echo "kforge: $1; powering off so the Auto Scaling group replaces this instance" >&2
  systemctl poweroff
  exit 1
}
trap 'give_up "user data failed at line $LINENO"' ERR

machine=$(uname -m)
case "$machine" in
  x86_64)
    agent_key="bootstrap/kforge-node-amd64"
    agent_version="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
    agent_sha256="abababababababababababababababababababababababababababababababab"
    ;;
  aarch64)
    agent_key="bootstrap/kforge-node-arm64"
    agent_version=""
    agent_sha256="cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
    ;;
  *)
    give_up "no agent for architecture $machine in this cluster (have: x86_64 aarch64)"
    ;;
esac

agent=/usr/local/bin/kforge
download=$(mktemp /usr/local/bin/.kforge-download.XXXXXX)
trap 'rm -f "$download"' EXIT

# The object version uploaded with this launch template, whose SHA-256 is
# pinned below; a newer agent uploaded since does not replace it.
fetch_agent() {
  if [ -n "$agent_version" ]; then
    aws --region "eu-west-1" s3api get-object --bucket "demo-dev-certs-0123456789ab" --key "$agent_key" \
      --version-id "$agent_version" "$download" >/dev/null
  else
    aws --region "eu-west-1" s3 cp --only-show-errors "s3://demo-dev-certs-0123456789ab/$agent_key" "$download"
  fi
}

# The instance role or the VPC endpoint may need a moment after boot.
attempt=1
until fetch_agent; do
  if [ "$attempt" -ge 10 ]; then
    give_up "could not fetch s3://demo-dev-certs-0123456789ab/$agent_key (version ${agent_version:-latest}) after $attempt attempts"
  fi
  sleep $((attempt * 6))
  attempt=$((attempt + 1))
done

echo "$agent_sha256  $download" | sha256sum --check --strict --quiet - ||
  give_up "s3://demo-dev-certs-0123456789ab/$agent_key does not have the SHA-256 Terraform uploaded"
install -m 0755 -o root -g root "$download" "$agent"
rm -f "$download"
trap - EXIT

"$agent" node install-units \
  --role "worker" \
  --pool "general" \
  --bucket "demo-dev-certs-0123456789ab" \
  --config-key "bootstrap/cluster.json" \
  --region "eu-west-1"

# --no-block: the bootstrap takes minutes, and cloud-final.service, which
# is running this script, need not wait for it.
systemctl start --no-block kforge-bootstrap.service
echo "kforge: kforge-bootstrap.service started; follow it with journalctl -u kforge-bootstrap -f"
