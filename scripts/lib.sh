# shellcheck shell=bash
# scripts/lib.sh: helpers shared by the esxmm scripts (sourced, not run).
#
#   ESXMM_CACHE     where built artifacts live (default /var/cache/esxmm; it must not be
#                   under a path the test host hides: the machine's root is shared as is)
#   esxmm_kver      newest /boot/vmlinuz-*-amd64 that has /usr/src/linux-headers-<ver>
#   esxmm_need_pkgs installs missing Debian packages (apt-get update once per process)
#   esxmm_wait_for  polls a command until it succeeds or a timeout passes

ESXMM_CACHE=${ESXMM_CACHE:-/var/cache/esxmm}
export ESXMM_CACHE

ESXMM_REPO=${ESXMM_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)}
export ESXMM_REPO

esxmm_log() { printf '%s: %s\n' "${ESXMM_LOG_TAG:-esxmm}" "$*" >&2; }
esxmm_die() { esxmm_log "error: $*"; exit 1; }

# Debian kernel version to boot in the test host and to build against.
esxmm_kver() {
	local f v best=
	for f in /boot/vmlinuz-*-amd64; do
		[ -e "$f" ] || continue
		v=${f#/boot/vmlinuz-}
		[ -d "/usr/src/linux-headers-$v" ] || continue
		if [ -z "$best" ] || [ "$(printf '%s\n%s\n' "$best" "$v" | sort -V | tail -n1)" = "$v" ]; then
			best=$v
		fi
	done
	[ -n "$best" ] || return 1
	printf '%s\n' "$best"
}

_ESXMM_APT_UPDATED=${_ESXMM_APT_UPDATED:-}
esxmm_need_pkgs() {
	local p missing=()
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$p")
		fi
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	esxmm_log "installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if [ -z "$_ESXMM_APT_UPDATED" ]; then
		apt-get update -qq >&2
		_ESXMM_APT_UPDATED=1
		export _ESXMM_APT_UPDATED
	fi
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# Packages every test-host run needs on the machine. linux-image/headers are the metapackages;
# the kernel actually used is whatever esxmm_kver picks. The swap tests and benchmark put
# ext4 (e2fsprogs: mkfs.ext4, filefrag) on device-mapper (dmsetup) on a loop device
# (util-linux: losetup, blockdev; mkswap/swapon for Linux's own swap). t_libvirt runs
# libvirtd (libvirt-daemon, its QEMU driver), virsh (libvirt-clients) and the agent
# tools/esxmm-balloond, built before the boot (libvirt-dev, libxml2-dev, pkg-config).
esxmm_need_testhost_pkgs() {
	esxmm_need_pkgs qemu-system-x86 busybox-static kmod cpio gzip gcc make libc6-dev \
		coreutils linux-image-amd64 linux-headers-amd64 e2fsprogs dmsetup util-linux \
		libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libvirt-dev \
		libxml2-dev pkg-config
}

# esxmm_wait_for TIMEOUT_SECS INTERVAL_SECS CMD...: run CMD until it succeeds.
esxmm_wait_for() {
	local timeout=$1 interval=$2 start
	shift 2
	start=$SECONDS
	until "$@"; do
		if (( SECONDS - start >= timeout )); then
			return 1
		fi
		sleep "$interval"
	done
}
