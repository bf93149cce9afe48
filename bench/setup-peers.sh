#!/bin/sh
# Installs and checks the peers of bench/run.ts: podman (with runc) and docker
# (dockerd + containerd) from Debian 12's packages, plus skopeo and runc.
#
#   sh bench/setup-peers.sh          install what is missing, then check
#   sh bench/setup-peers.sh check    only check
#
# Nothing is pulled from the internet: bench/run.ts gives every engine the test
# busybox image offline (skopeo into podman's storage, docker load of a
# docker-archive) and runs each peer with its state in a temp dir.
#
# What these machines need, and how bench/run.ts provides it per run (no file
# under /etc is changed, so other users of podman on the host see no change):
# - cgroups are v1 hybrid and crun refuses them: podman runs with
#   `--runtime runc` and containers.conf `runtime = "runc"`;
# - no systemd: `cgroup_manager = "cgroupfs"`, `events_logger = "file"`;
# - CAP_SYS_RESOURCE is not in the bounding set and the hard limits are
#   nofile 20000 and nproc ~96k (something on podman's path to runc has it
#   below 65536), so podman's defaults (nofile 1048576, nproc max) fail
#   with "error setting rlimit type 6/7": containers.conf
#   `default_ulimits = ["nofile=1024:20000", "nproc=32768:32768"]`, given
#   through CONTAINERS_CONF;
# - dockerd is started by the bench itself: data and exec roots in the temp
#   dir, its own socket, `--default-ulimit nofile=1024:20000`,
#   `--iptables=false --ip-forward=false --ip-masq=false` (no host firewall or
#   sysctl changes; docker adds no per-container rule for a container without
#   -p, so this does not change what `docker run --rm IMAGE true` costs),
#   `--bip 172.31.254.1/24`, `--cgroup-parent didactic-bench-docker`; it is
#   stopped by pid at the end and docker0 is deleted.
set -eu

mode=${1:-install}
if [ "$(id -u)" != 0 ]; then
	echo "setup-peers: needs root" >&2
	exit 1
fi

if [ "$mode" = install ]; then
	missing=""
	for pkg in podman docker.io runc skopeo; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $pkg"
	done
	if [ -n "$missing" ]; then
		echo "setup-peers: installing$missing"
		if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing; then
			apt-get update
			DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
		fi
	fi
	# docker.io's postinst may have started a daemon through an init script; the
	# bench starts its own and wants no other one answering on /var/run/docker.sock.
	if [ -S /var/run/docker.sock ] && [ -f /var/run/docker.pid ]; then
		echo "setup-peers: note: a dockerd is running (pid $(cat /var/run/docker.pid)); the bench uses its own socket and leaves it alone"
	fi
elif [ "$mode" != check ]; then
	echo "usage: $0 [install|check]" >&2
	exit 2
fi

status=0
check() {
	if command -v "$1" >/dev/null 2>&1; then
		printf '%-8s %s\n' "$1" "$("$@" 2>/dev/null | head -n 1)"
	else
		printf '%-8s missing\n' "$1"
		status=1
	fi
}
check runc --version
check skopeo --version
check podman --version
check dockerd --version
[ -x /usr/bin/docker ] && printf '%-8s %s\n' docker "$(/usr/bin/docker --version)"
printf '%-8s cgroup %s, nofile hard %s, nproc hard %s\n' host \
	"$(if [ -d /sys/fs/cgroup/unified ]; then echo 'v1 hybrid'; elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then echo v2; else echo v1; fi)" \
	"$(awk '/^Max open files/ {print $5}' /proc/self/limits)" "$(awk '/^Max processes/ {print $4}' /proc/self/limits)"
exit $status
