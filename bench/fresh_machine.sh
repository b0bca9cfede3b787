#!/usr/bin/env bash
# `make test` on a fresh machine, timed: a bare Debian 12 (debootstrap minbase) with only Python 3.11,
# git and make, none of voli's Debian packages and no pip cache; voli's main is cloned into it and
# `make test` (apt, pip, ruff, the suite) then `make test-fast` are timed there. Needs root and
# debootstrap (apt-get install debootstrap), about 10 GB of disk and 15 minutes; the machine's CPU is
# the host's (lscpu is printed).
#
#   sudo bench/fresh_machine.sh [REPOSITORY (default: this one)] [ROOT (default: /tmp/voli-fresh)]
#
# The host's registry set-up is copied in when there is one (its CA bundle, /etc/pip.conf, and /opt,
# where local package indexes may live), as a fresh machine of the same place would have it.
set -euo pipefail
REPO=${1:-$(cd "$(dirname "$0")/.." && pwd)}
R=${2:-/tmp/voli-fresh}
[ "$(id -u)" = 0 ] || { echo "run as root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "needs debootstrap: apt-get install debootstrap" >&2; exit 1; }
cleanup() {
  for m in opt dev sys proc; do umount -R "$R/$m" 2>/dev/null || true; done
  if mount | grep -q " $R/"; then echo "still mounted under $R: not removed" >&2; else rm -rf "$R"; fi
}
trap cleanup EXIT
rm -rf "$R"
debootstrap --variant=minbase bookworm "$R" http://deb.debian.org/debian >/dev/null
cp /etc/resolv.conf "$R/etc/resolv.conf"
mount -t proc proc "$R/proc"; mount --rbind /sys "$R/sys"; mount --rbind /dev "$R/dev"
chroot "$R" bash -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv git make ca-certificates >/dev/null"
[ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/ca-certificates.crt"
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$R/etc/pip.conf"
[ -d /opt ] && mkdir -p "$R/opt" && mount --rbind /opt "$R/opt"
git clone -q "$REPO" "$R/root/voli"
echo "fresh Debian 12: $(chroot "$R" python3 --version); voli $(git -C "$R/root/voli" log --oneline -1 | cut -c1-60)"
chroot "$R" env ${PIP_FIND_LINKS:+PIP_FIND_LINKS=$PIP_FIND_LINKS} SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt bash -c '
  cd /root/voli
  lscpu | grep -E "^Model name|^CPU\(s\)"
  for target in test test-fast; do
    start=$(date +%s)
    make $target > /root/make_$target.txt 2>&1 && rc=0 || rc=$?
    echo "make $target: exit $rc in $(( $(date +%s) - start )) s; $(grep -E "passed|failed" /root/make_$target.txt | tail -1)"
    [ -f .venv/.voli-installed ] && [ $target = test ] && echo "  install (apt + pip) done $(( $(stat -c %Y .venv/.voli-installed) - start )) s after the start"
  done'
