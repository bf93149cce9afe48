#!/usr/bin/env bash
# A first look, offline: sets the machine up, makes an image from this
# machine's busybox (no registry needed), and shows what the engine sees.
# Run as root: containers need namespaces, mounts and cgroups.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${SKIP_SETUP:-}" ] || bash scripts/setup.sh

dc() { node bin/didactic-container.js ${DEMO_ROOT:+--root "$DEMO_ROOT"} "$@"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
mkdir -p "$rootfs"/{bin,etc,tmp,root,proc,sys,dev}
chmod 1777 "$rootfs/tmp"
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
tar --numeric-owner -C "$rootfs" -czf "$work/busybox.tar.gz" .

echo "==> image new demo/busybox --file busybox.tar.gz"
dc image new demo/busybox --file "$work/busybox.tar.gz"
echo "==> images"
dc images
echo "==> image inspect demo/busybox (layers)"
dc image inspect demo/busybox | grep -A3 '"RootFS"'
echo "==> run --rm demo/busybox echo hello from a container"
dc run --rm --network none demo/busybox echo hello from a container
echo "==> run --rm --explain: every kernel step of a container's birth"
dc run --rm --network none --explain demo/busybox sh -c 'echo "I am pid $$ on $(hostname)"'
echo "==> info"
dc info
