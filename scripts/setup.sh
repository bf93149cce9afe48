#!/usr/bin/env bash
# Sets up a machine that has Node.js 20, npm, g++ and make: the Debian packages
# the engine and its tests use, then the npm dependencies and the build
# (TypeScript and the native part under native/).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  busybox-static              # the test images' root filesystem and the demo image
  docker-registry             # a real distribution v2 registry for the tests
  skopeo                      # pushes test images, an independent client to check against
  runc                        # the reference OCI runtime (--runtime runc, conformance tests)
  containernetworking-plugins # CNI plugins: bridge, host-local, portmap, firewall, loopback
  apache2-utils               # htpasswd, for a registry with basic auth
  iptables iproute2           # NAT and veth for networking
  zstd                        # zstd-compressed test layers
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# better-sqlite3 and zstd-napi build from source here; use both cores.
JOBS=max npm ci --no-audit --no-fund
