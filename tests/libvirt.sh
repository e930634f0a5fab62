# shellcheck shell=bash
# tests/libvirt.sh: a private libvirtd inside the test host, and the domain XML of a guest
# on esxmm memory; for tests/t_libvirt.sh and scripts/demo.sh (source it after tests/lib.sh).
#
# libvirtd_private WORK MNT: libvirtd with its configuration, state and sockets under WORK
# (bind mounts over /etc/libvirt, /run/libvirt, /var/{lib,cache,log}/libvirt and a passwd
# with the libvirt-qemu user, all undone at exit) and qemu.conf's memory_backing_dir = MNT;
# sets LV_URI, LV_PID and LV_WORK, defines V (virsh on LV_URI) and lv_fail MSG (the tail of
# libvirtd's log, then fail). Its QEMUs are killed by their pid files at exit.
libvirtd_private() {
	local w=$1 mnt=$2 t0 ver
	mkdir -p "$w"/{etc,run,lib,cache,log}
	cat >"$w/etc/qemu.conf" <<-EOF
	memory_backing_dir = "$mnt"
	user = "root"
	group = "root"
	dynamic_ownership = 0
	remember_owner = 0
	security_driver = "none"
	namespaces = [ ]
	stdio_handler = "file"
	EOF
	cat >"$w/etc/libvirtd.conf" <<-EOF
	unix_sock_rw_perms = "0700"
	auth_unix_rw = "none"
	log_outputs = "3:stderr"
	EOF
	cp /etc/passwd "$w/passwd"
	cp /etc/group "$w/group"
	getent passwd libvirt-qemu >/dev/null ||
		echo 'libvirt-qemu:x:64055:64055::/var/lib/libvirt:/usr/sbin/nologin' >>"$w/passwd"
	getent group libvirt-qemu >/dev/null || echo 'libvirt-qemu:x:64055:' >>"$w/group"
	# Its directories and the passwd it reads are bind mounts of files under $w, undone at
	# exit; mount points missing in this test host's throwaway root are made and removed again.
	# libvirtd stays in this mount namespace: with QEMU in another one (namespaces, unshare -m),
	# a chroot like this test host's makes /proc/<qemu>/maps name the files from that
	# namespace's root (/newroot/run/...), which the agent cannot match to the mount.
	_lv_bind() { # _lv_bind SRC DST
		if [ ! -e "$2" ]; then
			mkdir -p "$2"
			at_exit "rmdir '$2'"
		fi
		mount --bind "$1" "$2" || fail "mount --bind $1 $2"
		at_exit "umount '$2'"
	}
	_lv_bind "$w/etc" /etc/libvirt
	_lv_bind "$w/run" /run/libvirt
	_lv_bind "$w/lib" /var/lib/libvirt
	_lv_bind "$w/cache" /var/cache/libvirt
	_lv_bind "$w/log" /var/log/libvirt
	_lv_bind "$w/passwd" /etc/passwd
	_lv_bind "$w/group" /etc/group
	LV_WORK=$w
	LV_URI="qemu+unix:///system?socket=$w/run/libvirt-sock"
	/usr/sbin/libvirtd -f /etc/libvirt/libvirtd.conf >"$w/libvirtd.log" 2>&1 &
	LV_PID=$!
	# at exit before the umounts: libvirtd, then any QEMU it left running
	at_exit "kill $LV_PID 2>/dev/null; wait $LV_PID 2>/dev/null;" \
		"for p in \$(cat '$w'/run/qemu/*.pid 2>/dev/null); do kill -9 \$p; done; sleep 1"
	t0=$SECONDS
	wait_for 60 0.5 test -S "$w/run/libvirt-sock" || lv_fail "no libvirtd socket $w/run/libvirt-sock after 60 s"
	ver=$(timeout 180 virsh -c "$LV_URI" version 2>&1) || lv_fail "virsh version: $ver"
	log "libvirtd up (pid $LV_PID) in $((SECONDS - t0)) s: $(grep -o 'Running hypervisor.*' <<<"$ver")"
}
V() { virsh -q -c "$LV_URI" "$@"; }
lv_fail() {
	log "libvirtd log:"
	grep -vE 'dnsmasq|dmidecode|DMI|DBus|system bus|/dev/mem|^$' "$LV_WORK/libvirtd.log" |
		tail -n 30 | sed 's/^/libvirtd> /'
	fail "$*"
}

# lv_stop NAME: write "stop" to the guest's ttyS1 socket (LV_WORK/NAME.stop), which ends its
# memory checker (memcheck mc_stop=/dev/ttyS1); non-zero if the socket takes no line.
lv_stop() {
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"stop\n")' "$LV_WORK/$1.stop"
}

# lv_console NAME: the guest's serial console so far (LV_WORK/NAME.console), without CRs.
# lv_result NAME: its memory checker's last "MEMCHECK OK|FAIL ..." line, if any.
lv_console() { tr -d '\r' <"$LV_WORK/$1.console" 2>/dev/null; }
lv_result() { lv_console "$1" | grep -oE 'MEMCHECK (OK|FAIL).*' | tail -n1 || true; }

# libvirt_domxml NAME KIB SHARES INITRD CMDLINE: a 1-vCPU guest with KIB of memory on a
# shared file (libvirt's memory_backing_dir), our metadata element with SHARES, Debian's
# kernel and INITRD, a virtio balloon with stats every 5 s, ttyS0 to LV_WORK/NAME.console
# and ttyS1 on the unix socket LV_WORK/NAME.stop (memcheck's mc_stop).
libvirt_domxml() {
	cat <<EOF
<domain type='kvm'>
  <name>$1</name>
  <metadata>
    <esxmm:memory xmlns:esxmm="https://esxmm.dev/xmlns/1" shares="$3"/>
  </metadata>
  <memory unit='KiB'>$2</memory>
  <currentMemory unit='KiB'>$2</currentMemory>
  <memoryBacking>
    <source type='file'/>
    <access mode='shared'/>
  </memoryBacking>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$(guest_kernel)</kernel>
    <initrd>$4</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 mitigations=off init_on_alloc=0 $5</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='host-passthrough'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/>
    <serial type='file'>
      <source path='$LV_WORK/$1.console'/>
      <target port='0'/>
    </serial>
    <serial type='unix'>
      <source mode='bind' path='$LV_WORK/$1.stop'/>
      <target port='1'/>
    </serial>
    <memballoon model='virtio' autodeflate='on'>
      <stats period='5'/>
    </memballoon>
  </devices>
</domain>
EOF
}
