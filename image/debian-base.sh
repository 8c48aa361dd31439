#!/usr/bin/env bash
# Makes a Debian 12 base image with Python 3.11 and its venv module from
# Debian's archive, for a machine that reaches no container registry:
#   image/debian-base.sh [IMAGE]        (default localhost/debian12-python:3.11)
# then `make image BASE_IMAGE=IMAGE`. debootstrap's minbase variant plus
# Debian's python3, python3-venv and ca-certificates; apt's caches and lists
# are removed. The archive is the one apt on this machine uses for bookworm
# (or DEBIAN_MIRROR), and the base is upgraded from the same sources
# (security updates included). Needs root, python3, debootstrap and podman.
set -euo pipefail
image=${1:-localhost/debian12-python:3.11}
for tool in debootstrap podman; do
  command -v "$tool" >/dev/null || PATH="$PATH:/usr/sbin" command -v "$tool" >/dev/null || {
    echo "error: $tool is not installed; install Debian's $tool (apt-get install debootstrap podman)." >&2
    exit 2; }
done
export PATH="$PATH:/usr/sbin"
# The archive for bookworm among apt's own sources (deb822 or one-line),
# and those sources themselves (security updates included), which the
# base then upgrades from.
sources=$(python3 - <<'PY'
import glob, re
stanzas = []
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    with open(path, encoding="utf-8") as f:
        for block in re.split(r"\n\s*\n", f.read()):
            fields = dict(re.findall(r"^([A-Za-z-]+):[ \t]*(.*)$", block, re.M))
            if ("deb" in fields.get("Types", "").split()
                    and any(s.split("-")[0] == "bookworm"
                            for s in fields.get("Suites", "").split())):
                stanzas.append(fields)
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError:
        continue
    for line in lines:
        words = [w for w in line.split("#")[0].split() if not w.startswith("[")]
        if len(words) >= 4 and words[0] == "deb" and words[2].split("-")[0] == "bookworm":
            stanzas.append({"Types": "deb", "URIs": words[1], "Suites": words[2],
                            "Components": " ".join(words[3:])})
for fields in stanzas:
    print(f"{fields['URIs'].split()[0]}|{fields['Suites']}|{fields.get('Components', 'main')}")
PY
)
mirror=${DEBIAN_MIRROR:-$(printf '%s\n' "$sources" | awk -F'|' '$2 ~ /(^| )bookworm( |$)/ {print $1; exit}')}
if [ -z "$mirror" ]; then
  echo "error: no Debian bookworm archive found in apt's sources; set DEBIAN_MIRROR to one." >&2
  exit 2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
echo "debootstrap bookworm from $mirror into $rootfs" >&2
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
# Debian's point-release and security updates, from the same sources.
: >"$rootfs/etc/apt/sources.list"
printf '%s\n' "$sources" | while IFS='|' read -r uri suites components; do
  [ -n "$uri" ] || continue
  printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: %s\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n' \
    "$uri" "$suites" "$components"
done >"$rootfs/etc/apt/sources.list.d/debian.sources"
if [ ! -s "$rootfs/etc/apt/sources.list.d/debian.sources" ]; then
  echo "deb $mirror bookworm main" >"$rootfs/etc/apt/sources.list"
  rm -f "$rootfs/etc/apt/sources.list.d/debian.sources"
fi
chroot "$rootfs" sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -q' \
  >>"$work/debootstrap.log" 2>&1 || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
  "$rootfs"/var/log/*.log "$rootfs"/tmp/*
tar --numeric-owner -C "$rootfs" -cf "$work/rootfs.tar" .
podman import --change 'CMD ["/bin/bash"]' "$work/rootfs.tar" "$image" >/dev/null
python=$(chroot "$rootfs" python3 --version)
echo "$image: Debian $(cat "$rootfs/etc/debian_version"), $python" >&2
