#!/usr/bin/env bash
# Regenerates the plan fixtures of internal/cost and internal/graph: a real
# `terraform plan` of terraform/cluster, against moto_server, for each example
# environment in envs/ (rendered by internal/config for the emulator), saved
# as `terraform show -json` output, gzipped, in internal/cost/testdata/plans/.
#
#   KFORGE_PLUGIN_DIR=<provider mirror> internal/cost/testdata/make-plans.sh [env ...]
#
# Then rewrite the goldens and review the diff:
#   go test ./internal/cost/ ./internal/graph/ -update
#
# Plans only: nothing is applied; the state is a throwaway local one. Regions
# and instance types are the environments' own, so the costs are real ones.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../../.." && pwd)
out="$repo/internal/cost/testdata/plans"
# moto's own Amazon Linux image; the emulator has no SSM AMI parameters.
moto_ami=ami-12c6146b

envs=("$@")
if ((${#envs[@]} == 0)); then
  envs=(dev staging prod local)
fi

command -v moto_server >/dev/null || { echo "moto_server not found: pip install 'moto[server]>=5.2,<6'" >&2; exit 1; }
command -v terraform >/dev/null || { echo "terraform not found" >&2; exit 1; }
init_args=(-input=false -no-color)
if [[ -n "${KFORGE_PLUGIN_DIR:-}" ]]; then
  init_args+=("-plugin-dir=$KFORGE_PLUGIN_DIR")
fi

work=$(mktemp -d)
moto_pid=
cleanup() {
  if [[ -n "$moto_pid" ]]; then
    kill "$moto_pid" 2>/dev/null || true
    wait "$moto_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
endpoint="http://127.0.0.1:$port"
moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 1 100); do
  if curl -fsS -o /dev/null "$endpoint/moto-api/" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
curl -fsS -o /dev/null "$endpoint/moto-api/" || { echo "moto_server did not answer on $endpoint" >&2; exit 1; }

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true
mkdir -p "$out"
(cd "$repo" && go build -o "$work/tfvars" ./internal/cost/testdata/tfvars)

for env in "${envs[@]}"; do
  echo "==> $env"
  dir="$work/$env"
  mkdir -p "$dir"
  cp -r "$repo/terraform" "$dir/"
  root="$dir/terraform/cluster"
  # A local state instead of the S3 backend: fixtures need no state bucket.
  printf 'terraform {\n  backend "local" {}\n}\n' >"$root/backend_override.tf"
  printf 'fixture agent binary\n' >"$root/kforge-agent"
  "$work/tfvars" -envs "$repo/envs" -endpoint "$endpoint" -agent kforge-agent -ami "$moto_ami" "$env" >"$root/terraform.tfvars.json"
  (
    cd "$root"
    terraform init "${init_args[@]}" >"$dir/init.log" || { cat "$dir/init.log" >&2; exit 1; }
    terraform plan -input=false -no-color -lock=false -out=plan.bin >"$dir/plan.log" || { cat "$dir/plan.log" >&2; exit 1; }
    terraform show -json plan.bin | gzip -n -9 >"$out/$env.plan.json.gz"
  )
  echo "    $(grep -E '^Plan:' "$dir/plan.log")"
done
