#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything the build, the checks, KUnit and the test host need, on
# a fresh Debian 12 machine (run as root). Idempotent and quick when done.
set -euo pipefail
ESXMM_LOG_TAG=deps
. "$(dirname "$0")/lib.sh"

esxmm_need_pkgs gcc make libc6-dev bc bison flex libelf-dev libssl-dev cpio kmod xz-utils \
	rsync python3 sparse perl git linux-source-6.1 \
	libvirt-dev libxml2-dev pkg-config libvirt-daemon libvirt-clients
esxmm_need_testhost_pkgs
