#!/usr/bin/env bash
# Regenerates the state fixture of internal/cost and internal/graph: applies
# the local environment on the emulator with kforge (`kforge up local`),
# saves `terraform show -json` of the state, gzipped, in
# internal/cost/testdata/states/local.state.json.gz, and tears it down.
#
#   KFORGE_PLUGIN_DIR=<provider mirror> internal/cost/testdata/make-state.sh
#
# A full apply on the emulator: about three minutes.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../../.." && pwd)
out="$repo/internal/cost/testdata/states"
work=$(mktemp -d)
kforge="$work/kforge"
cleanup() {
  "$kforge" --envs-dir "$repo/envs" --workdir "$work/w" down local --yes >"$work/down.log" 2>&1 || cat "$work/down.log" >&2
  rm -rf "$work"
}

(cd "$repo" && go build -o "$kforge" ./cmd/kforge)
trap cleanup EXIT
"$kforge" --envs-dir "$repo/envs" --workdir "$work/w" up local --yes >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; exit 1; }
mkdir -p "$out"
(
  cd "$work/w/local/terraform/cluster"
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_EC2_METADATA_DISABLED=true \
    terraform show -json -no-color | gzip -n -9 >"$out/local.state.json.gz"
)
echo "wrote $out/local.state.json.gz"
