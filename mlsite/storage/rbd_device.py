"""``mlsite-rbd-dev``: make an RBD image a mounted block device, and undo it.

Real hosts map images with the kernel client (``rbd map``). Lab hosts cannot (no krbd in this
kernel): there the image becomes a file through ``rbd-fuse`` and the file a block device
through a loop device. The script takes the mode from its first argument, written into the
units that call it by the deploy, so both paths share every other step.
"""

from __future__ import annotations

from typing import Literal

RbdMode = Literal["krbd", "fuse"]
PATH = "/usr/local/sbin/mlsite-rbd-dev"
FUSE_ROOT = "/run/mlsite-rbd"
"""Where ``fuse`` mode mounts rbd-fuse (one directory per pool/image)."""
LOOP_RECORDS = "/var/lib/mlsite-rbd/loops"
"""``fuse`` mode: one file per loop device the script attached (named like the device, holding
the backing file's path), removed when it detaches it. Loop devices belong to the machine, not
to the lab host: the lab's teardown reads these records to release the ones a crashed host
left behind (a dead rbd-fuse file, shown as ``/<image>`` once the host is gone)."""

SCRIPT = r"""#!/bin/sh
# Managed by mlsite (mlsite/storage/rbd_device.py).
# mlsite-rbd-dev MODE map|map-exclusive|unmap|mount|umount POOL/IMAGE [MOUNTPOINT]
#   map-exclusive first breaks (and blocklists) locks another client holds: only for HA
#   resources, which pacemaker starts after the other node was fenced.
#   MODE krbd: rbd map (real hosts); MODE fuse: rbd-fuse + loop device (lab hosts, no krbd).
set -eu
mode=$1 action=$2 spec=$3 mnt=${4:-}
pool=${spec%%/*} image=${spec#*/}
fusedir=@FUSE_ROOT@/$pool/$image

lab_nodes() {
    # nspawn hosts start without these device nodes; the lab allows creating them
    [ -e /dev/fuse ] || mknod -m 666 /dev/fuse c 10 229
    [ -e /dev/loop-control ] || mknod -m 660 /dev/loop-control c 10 237
    i=0; while [ $i -lt 16 ]; do [ -e /dev/loop$i ] || mknod -m 660 /dev/loop$i b 7 $i; i=$((i+1)); done
}

device() {
    if [ "$mode" = krbd ]; then
        rbd device list --format json | python3 -c "import json,sys; print(next((d['device'] for d in json.load(sys.stdin) if d['pool']=='$pool' and d['name']=='$image'), ''))"
    else
        [ -e "$fusedir/$image" ] && losetup -j "$fusedir/$image" | cut -d: -f1 | head -n1 || true
    fi
}

map() {
    dev=$(device)
    if [ -n "$dev" ]; then echo "$dev"; return; fi
    if [ "$mode" = krbd ]; then
        rbd map "$pool/$image"
    else
        lab_nodes
        mkdir -p "$fusedir"
        mountpoint -q "$fusedir" || rbd-fuse -p "$pool" -r "$image" "$fusedir"
        dev=$(losetup --find --show "$fusedir/$image")
        mkdir -p @LOOP_RECORDS@ && echo "$fusedir/$image" > "@LOOP_RECORDS@/${dev##*/}"
        mkdir -p "/dev/rbd/$pool"
        ln -sfn "$dev" "/dev/rbd/$pool/$image"
        echo "$dev"
    fi
}

break_locks() {
    rbd lock ls --format json "$pool/$image" | python3 -c '
import json, sys
for lock in json.load(sys.stdin) or []:
    print(lock["id"].replace(" ", "%20"), lock["locker"])
' | while read -r id locker; do
        rbd lock rm "$pool/$image" "$(echo "$id" | sed "s/%20/ /g")" "$locker"
        logger -t mlsite-rbd-dev "broke lock of $locker on $pool/$image"
    done
}

unmap() {
    dev=$(device)
    if [ "$mode" = krbd ]; then
        [ -z "$dev" ] || rbd unmap "$dev"
    else
        [ -z "$dev" ] || { losetup -d "$dev"; rm -f "@LOOP_RECORDS@/${dev##*/}"; }
        # rbd-fuse exits (closing the image) after the unmount returns: wait for it, or
        # removing the image right after fails on its watch
        pids=$(pgrep -f "^rbd-fuse -p $pool -r $image $fusedir\$" || true)
        ! mountpoint -q "$fusedir" || umount "$fusedir"
        for pid in $pids; do
            i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
        done
        rmdir "$fusedir" 2>/dev/null || true
        rm -f "/dev/rbd/$pool/$image"
    fi
}

case $action in
    map) map ;;
    map-exclusive) [ -n "$(device)" ] || break_locks; map ;;
    unmap) unmap ;;
    mount)
        dev=$(map)
        mkdir -p "$mnt"
        mountpoint -q "$mnt" || mount -o noatime "$dev" "$mnt"
        ;;
    umount)
        ! mountpoint -q "$mnt" || umount "$mnt"
        unmap
        ;;
    *) echo "usage: $0 krbd|fuse map|map-exclusive|unmap|mount|umount POOL/IMAGE [DIR]" >&2; exit 2 ;;
esac
"""


def script() -> str:
    """The text of ``mlsite-rbd-dev``."""
    return SCRIPT.replace("@FUSE_ROOT@", FUSE_ROOT).replace("@LOOP_RECORDS@", LOOP_RECORDS)


def mode_for(lab: bool) -> RbdMode:
    """``fuse`` on lab hosts (no kernel RBD client), ``krbd`` on real hosts."""
    return "fuse" if lab else "krbd"
