#!/usr/bin/env bash
# Install the pinned Terraform CLI into $1 (default: $RUNNER_TEMP/bin), checksum-verified.
# Used by .github/workflows/terraform.yml instead of a JavaScript action.
set -euo pipefail
version="${TF_VERSION:?set TF_VERSION}"
dest="${1:-${RUNNER_TEMP:-/tmp}/bin}"
base="https://releases.hashicorp.com/terraform/${version}"
zip="terraform_${version}_linux_amd64.zip"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
curl -fsSL --retry 3 -o "$work/$zip" "$base/$zip"
curl -fsSL --retry 3 -o "$work/SHA256SUMS" "$base/terraform_${version}_SHA256SUMS"
(cd "$work" && grep " ${zip}\$" SHA256SUMS | sha256sum -c -)
mkdir -p "$dest"
unzip -o -q "$work/$zip" terraform -d "$dest"
"$dest/terraform" version
