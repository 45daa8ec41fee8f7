#!/usr/bin/env bash
# Builds what the qemu runtime boots, from the "base" image (images/build-base.sh):
#   vmlinuz            Debian cloud kernel (linux-image-<ver>-cloud-amd64, downloaded and extracted,
#                      never installed on the host)
#   initramfs.cpio.gz  static busybox + the virtio modules; /init insmods them, mounts /dev/vda and
#                      switch_roots to /sbin/chaser-init
#   rootfs.ext4        the base rootfs plus /sbin/chaser-init, made with `mkfs.ext4 -d` (VMs boot it
#                      through per-VM qcow2 overlays; it is never written)
#
# Output: ${CHASER_IMAGE_CACHE:-/var/cache/chaser/images}/vm-<hash>/, <hash> = sha256 of this script
# and the base image's recipe hash, plus the symlink `vm.<base dir name> -> vm-<hash>`, which is how
# the host daemon finds the VM files of a rootfs directory it resolved. Idempotent, flock-serialised,
# built in a temp dir and renamed into place. Installs qemu-system-x86 qemu-utils busybox-static cpio.
#
# The guest agent is NOT baked in: the host builds a tiny read-only ext4 from chaser/agent (keyed by
# a hash of its sources) and attaches it as a second disk, so an agent change needs no rebuild here.
set -euo pipefail

cache=${CHASER_IMAGE_CACHE:-/var/cache/chaser/images}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

need=()
for pkg_bin in qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils cpio:cpio mkfs.ext4:e2fsprogs; do
  command -v "${pkg_bin%%:*}" >/dev/null 2>&1 || need+=("${pkg_bin##*:}")
done
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
if [ "${#need[@]}" -gt 0 ]; then
  echo "build-vm: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

base=$(readlink -f "$cache/base")
[ -d "$base/rootfs" ] || bash "$here/build-base.sh"
base=$(readlink -f "$cache/base")
base_name=$(basename "$base")

# The kernel flavour Debian currently points linux-image-cloud-amd64 at.
kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kpkg" ] || { echo "build-vm: cannot resolve linux-image-cloud-amd64 (apt-get update?)" >&2; exit 1; }
kver=${kpkg#linux-image-}

recipe_hash=$( (cat "$here/build-vm.sh"; echo "$base_name $kpkg") | sha256sum | cut -c1-16)
name=vm-$recipe_hash
dest=$cache/$name

mkdir -p "$cache"
exec 9>"$cache/.build-vm.lock"
flock 9

point_alias() {
  ln -sfn "$name" "$cache/.vm.tmp.$$"
  mv -T "$cache/.vm.tmp.$$" "$cache/vm.$base_name"
}

if [ -f "$dest/rootfs.ext4" ]; then
  point_alias
  echo "build-vm: $name present at $dest"
  exit 0
fi

start=$(date +%s)
tmp=$(mktemp -d "$cache/.tmp-$name.XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

# ---- kernel (downloaded once per version into the cache, extracted, never installed)
kdir=$cache/.kernel/$kver
if [ ! -f "$kdir/boot/vmlinuz-$kver" ]; then
  mkdir -p "$cache/.kernel"
  dl=$(mktemp -d "$cache/.kernel/.dl.XXXXXX"); chmod 777 "$dl"  # apt downloads as _apt
  (cd "$dl" && apt-get download -qq "$kpkg" && dpkg-deb -x ./"$kpkg"_*.deb x)
  rm -rf "$kdir"; mv -T "$dl/x" "$kdir"; rm -rf "$dl"
fi
install -m 0644 "$kdir/boot/vmlinuz-$kver" "$tmp/vmlinuz"
echo "$kver" >"$tmp/kernel-version"

# ---- initramfs: busybox + virtio modules, in dependency order
w=$tmp/initrd
mkdir -p "$w"/{bin,proc,sys,dev,newroot,lib/modules,tmp}
cp /bin/busybox "$w/bin/busybox"
for a in sh mount umount insmod switch_root cat sleep mkdir; do ln -s busybox "$w/bin/$a"; done
mods="drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_mmio
  drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci
  drivers/block/virtio_blk drivers/char/virtio_console drivers/char/hw_random/virtio-rng
  drivers/virtio/virtio_balloon net/core/failover drivers/net/net_failover drivers/net/virtio_net
  net/vmw_vsock/vsock net/vmw_vsock/vmw_vsock_virtio_transport_common net/vmw_vsock/vmw_vsock_virtio_transport"
: >"$w/lib/modules/order"
for m in $mods; do
  ko=$(find "$kdir/lib/modules/$kver/kernel/$(dirname "$m")" -maxdepth 1 -name "$(basename "$m").ko*" | head -1)
  [ -n "$ko" ] || { echo "build-vm: module $m missing from $kpkg" >&2; exit 1; }
  case $ko in
    *.xz) xz -dc "$ko" >"$w/lib/modules/$(basename "$m").ko" ;;
    *.zst) zstd -qdc "$ko" >"$w/lib/modules/$(basename "$m").ko" ;;
    *) cp "$ko" "$w/lib/modules/$(basename "$m").ko" ;;
  esac
  echo "$(basename "$m").ko" >>"$w/lib/modules/order"
done
cat >"$w/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /lib/modules/order); do insmod /lib/modules/$m 2>/dev/null; done
ROOT=/dev/vda; INIT=/sbin/chaser-init
for a in $(cat /proc/cmdline); do case $a in chaser.root=*) ROOT=${a#chaser.root=};; chaser.init=*) INIT=${a#chaser.init=};; esac; done
i=0; while [ ! -b $ROOT ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
mount -t ext4 -o rw $ROOT /newroot || { echo "chaser-initramfs: cannot mount $ROOT" >/dev/console; exec sh; }
mount --move /dev /newroot/dev 2>/dev/null; umount /proc /sys
exec switch_root /newroot $INIT
INIT
chmod 0755 "$w/init"
(cd "$w" && find . | cpio -o -H newc --quiet | gzip -1 >"$tmp/initramfs.cpio.gz")
rm -rf "$w"

# ---- root filesystem: a copy of the base tree plus /sbin/chaser-init (PID 1)
r=$tmp/root
cp -a "$base/rootfs" "$r"
# /sbin is a relative symlink to usr/sbin in the base tree: write the real path, and never through a
# symlink (rm -f first), or the write could land on the host (vm-lab §3).
rm -f "$r/usr/sbin/chaser-init"
cat >"$r/usr/sbin/chaser-init" <<'INIT'
#!/bin/sh
# PID 1 of a chaser VM: mount the basics, the agent disk and the workspace, then run the agent.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root
mount -t proc proc /proc 2>/dev/null; mount -t sysfs sys /sys 2>/dev/null
[ -e /dev/null ] || mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm; mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts; mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=755 tmpfs /run; mount -t tmpfs -o mode=1777 tmpfs /tmp; mkdir -p /run/chaser
HOST=chaser; PORT=agent0; TOKEN=
for a in $(cat /proc/cmdline); do case $a in
  chaser.hostname=*) HOST=${a#chaser.hostname=};; chaser.port=*) PORT=${a#chaser.port=};; chaser.token=*) TOKEN=${a#chaser.token=};;
esac; done
hostname "$HOST"; ip link set lo up 2>/dev/null
mount -o ro LABEL=chaser-agent /opt/chaser/chaser_agent || echo "chaser-init: no agent disk" >/dev/console
mount LABEL=workspace /workspace 2>/dev/null
cd /opt/chaser
export CHASER_AGENT_TRANSPORT="virtio-serial:$PORT" CHASER_AGENT_TOKEN="$TOKEN"
exec /usr/bin/tini -s -g -- /usr/bin/python3 -B -m chaser_agent >/dev/console 2>&1
INIT
chmod 0755 "$r/usr/sbin/chaser-init"
# The gVisor statx workaround is not needed under a real kernel.
rm -f "$r/etc/ld.so.preload"
size_mb=$(( $(du -sm "$r" | cut -f1) * 3 / 2 + 1024 ))
mkfs.ext4 -q -F -L chaser-root -d "$r" "$tmp/rootfs.ext4" "${size_mb}M" >/dev/null
rm -rf "$r"

echo "$recipe_hash" >"$tmp/recipe-hash"
mv -T "$tmp" "$dest"
trap - EXIT
point_alias
echo "build-vm: built $name in $(( $(date +%s) - start ))s at $dest"
