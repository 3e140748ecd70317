#!/bin/sh
# Start the user's sshd (own host keys, port 2222, no root needed) when authorized keys
# are mounted and the image has sshd (package set ssh), then run the command (JupyterLab by default).
set -eu
keys="$HOME/.ssh/authorized_keys"
if [ -s "$keys" ] && [ -x /usr/sbin/sshd ]; then
    dir="$HOME/.sshd"
    mkdir -p "$dir"
    [ -f "$dir/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$dir/host_ed25519"
    /usr/sbin/sshd -f /etc/ssh/sshd_config -p 2222 -h "$dir/host_ed25519" \
        -o PidFile="$dir/sshd.pid" -o AuthorizedKeysFile="$keys"
fi
exec "$@"
