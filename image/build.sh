#!/usr/bin/env bash
# Builds the Dockerfile into IMAGE (what `make image` runs):
#   image/build.sh IMAGE [BASE_IMAGE] [GPU]
# with Docker where a daemon answers, and otherwise with buildah (Debian's
# package; daemonless, no root daemon needed). The CA bundle pip trusts
# (PIP_CERT) and a private index (PIP_INDEX_URL), when set, reach the
# install step as build secrets: mounted for that step only, in no layer
# and no image history.
set -euo pipefail
image=${1:?usage: image/build.sh IMAGE [BASE_IMAGE] [GPU]}
base=${2:-python:3.11.7-slim-bookworm}
gpu=${3:-0}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
secrets=()
if [ -n "${PIP_CERT:-}" ]; then
  secrets+=(--secret "id=pip_cert,src=$PIP_CERT")
fi
if [ -n "${PIP_INDEX_URL:-}" ]; then
  (umask 077; printf '%s' "$PIP_INDEX_URL" >"$work/index_url")
  secrets+=(--secret "id=pip_index_url,src=$work/index_url")
fi
# Beam's SDK container entrypoint (/opt/apache/beam/boot), which Dataflow
# and Beam's worker pools start SDK workers with, built with Go from Beam's
# module at the hashes image/beam-boot/go.sum pins, for the Beam release the
# image installs.
beam=$(sed -n 's/^apache-beam==//p' constraints.txt)
grep -q "^require github.com/apache/beam/sdks/v2 v$beam\$" image/beam-boot/go.mod || {
  echo "error: image/beam-boot/go.mod does not build Beam $beam's boot (constraints.txt pins apache-beam==$beam): set its require line to v$beam and run go mod tidy there." >&2
  exit 2
}
command -v go >/dev/null || {
  echo "error: building the image needs Go for Beam's boot entrypoint (image/beam-boot): install Go and run make image again." >&2
  exit 2
}
(cd image/beam-boot && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 \
  GOFLAGS=-mod=readonly go build -trimpath -o boot github.com/apache/beam/sdks/v2/python/container)
args=(--build-arg "BASE_IMAGE=$base" --build-arg "GPU=$gpu" -t "$image")
start=$(date +%s)
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  DOCKER_BUILDKIT=1 docker build "${args[@]}" "${secrets[@]}" .
  builder=docker
elif command -v buildah >/dev/null; then
  # chroot isolation and the host's network: what works without a daemon
  # or root-owned bridge (and, on machines that flag private-range
  # traffic, the only network allowed).
  buildah bud --isolation chroot --network host --layers --format docker \
    "${args[@]}" "${secrets[@]}" .
  builder=buildah
else
  echo "error: no Docker daemon answers and buildah is not installed: start Docker, or install Debian's buildah (apt-get install buildah podman) and run make image again." >&2
  exit 2
fi
echo "built $image with $builder on $base in $(( $(date +%s) - start )) s" >&2
