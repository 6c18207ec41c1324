#!/bin/sh
set -e
mount --bind '/var/lib/pvelab/cluster' /etc/pve
mount --bind '/var/lib/pvelab/cluster/nodes/pve2/lxc' /etc/pve/lxc
mount --bind '/var/lib/pvelab/cluster/nodes/pve2' /etc/pve/local
mount --bind '/var/lib/pvelab/nodes/pve2/members' /etc/pve/.members
mount --bind '/var/lib/pvelab/nodes/pve2/vz' /var/lib/vz
exec /usr/sbin/sshd -D -e -f '/var/lib/pvelab/nodes/pve2/sshd_config'
