#!/bin/bash
# kforge node user data (rendered by the root module with templatefile()).
# Fetches the node agent from the certs bucket's bootstrap prefix with the
# AWS CLI that Amazon Linux 2023 ships (instance role, IMDSv2), refuses it
# unless its SHA-256 matches, installs it and runs it. No secret is here:
# the agent reads the join material and PKI later, with the instance role
# and the cluster's KMS key.
set -euo pipefail
exec >>/var/log/kforge-user-data.log 2>&1

agent=/usr/local/bin/kforge
download=$(mktemp /usr/local/bin/.kforge-download.XXXXXX)
trap 'rm -f "$download"' EXIT

# The instance role or the VPC endpoint may need a moment after boot.
attempt=1
until aws --region "eu-west-1" s3 cp --only-show-errors "s3://demo-dev-certs-0123456789ab/bootstrap/kforge-node" "$download"; do
  if [ "$attempt" -ge 10 ]; then
    echo "kforge: could not fetch s3://demo-dev-certs-0123456789ab/bootstrap/kforge-node after $attempt attempts" >&2
    exit 1
  fi
  sleep $((attempt * 6))
  attempt=$((attempt + 1))
done

echo "abababababababababababababababababababababababababababababababab  $download" | sha256sum --check --strict --quiet -
install -m 0755 -o root -g root "$download" "$agent"
rm -f "$download"
trap - EXIT

exec "$agent" node bootstrap \
  --role "controller" \
  --pool "" \
  --bucket "demo-dev-certs-0123456789ab" \
  --config-key "bootstrap/cluster.json" \
  --region "eu-west-1"
