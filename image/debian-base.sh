#!/usr/bin/env bash
# Makes a Debian 12 base image with Python 3.11 and its venv module from
# Debian's archive, for a machine that reaches no container registry:
#   image/debian-base.sh [IMAGE]        (default localhost/debian12-python:3.11)
# then `make image BASE_IMAGE=IMAGE`. debootstrap's minbase variant plus
# Debian's python3, python3-venv and ca-certificates; apt's caches and lists
# are removed. The archive is the one apt on this machine uses (the first
# URI of its sources), or DEBIAN_MIRROR. Needs root, debootstrap and podman.
set -euo pipefail
image=${1:-localhost/debian12-python:3.11}
for tool in debootstrap podman; do
  command -v "$tool" >/dev/null || PATH="$PATH:/usr/sbin" command -v "$tool" >/dev/null || {
    echo "error: $tool is not installed; install Debian's $tool (apt-get install debootstrap podman)." >&2
    exit 2; }
done
export PATH="$PATH:/usr/sbin"
mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
    | awk '/^URIs:/ {print $2; exit}')
fi
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" {print ($2 ~ /^\[/ ? $3 : $2); exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
if [ -z "$mirror" ]; then
  echo "error: no Debian archive found in apt's sources; set DEBIAN_MIRROR to one." >&2
  exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
echo "debootstrap bookworm from $mirror into $rootfs" >&2
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
  "$rootfs"/var/log/*.log "$rootfs"/tmp/*
tar --numeric-owner -C "$rootfs" -cf "$work/rootfs.tar" .
podman import --change 'CMD ["/bin/bash"]' "$work/rootfs.tar" "$image" >/dev/null
python=$(chroot "$rootfs" python3 --version)
echo "$image: Debian $(cat "$rootfs/etc/debian_version"), $python" >&2
