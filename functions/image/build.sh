#!/usr/bin/env bash
# npm run image:build — builds the ossferry function image (functions/Dockerfile) with buildah, no Docker daemon.
#
#   BASE_IMAGE            use this base (skips the lookup below)
#   OSSFERRY_IMAGE        tag to build (default localhost/ossferry/function:latest)
#   OSSFERRY_IMAGE_WORK   scratch dir for the base maker and the size measurement (default /var/tmp/ossferry-image)
#
# Base: the official node:24-bookworm-slim when it is in local storage or can be pulled; otherwise (no registry
# reachable, as on this project's machines and CI) a local stand-in made by make-base.sh from debootstrap and the
# npm registry's Node binary, cached in buildah's storage between runs.
# Storage/isolation: vfs + chroot, the combination that works without a daemon or user namespaces here.
# Prints the build time, the image size uncompressed and compressed (gzip layers, as a registry stores them),
# and writes them to dist/image-build.json for npm run image:test.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
export STORAGE_DRIVER="${STORAGE_DRIVER:-vfs}"
export BUILDAH_ISOLATION="${BUILDAH_ISOLATION:-chroot}"
image="${OSSFERRY_IMAGE:-localhost/ossferry/function:latest}"
official=docker.io/library/node:24-bookworm-slim
work="${OSSFERRY_IMAGE_WORK:-/var/tmp/ossferry-image}"
mkdir -p "$work" dist
log() { echo "[image:build] $*" >&2; }
t_start=$SECONDS

for tool in buildah node; do
  command -v "$tool" >/dev/null || { log "$tool not found: run scripts/system-deps.sh --image (and npm install)"; exit 1; }
done

base="${BASE_IMAGE:-}"
base_kind=given
if [[ -z "$base" ]]; then
  if buildah inspect --type image "$official" >/dev/null 2>&1 || buildah pull --quiet --retry 0 "$official" >/dev/null 2>&1; then
    base="$official" base_kind=official
  else
    log "$official cannot be pulled (no registry reachable): using the local stand-in base"
    base="$(bash functions/image/make-base.sh | tail -1)" base_kind=debootstrap
  fi
fi
t_base=$SECONDS
log "base: $base ($base_kind)"

# Extra CA bundle for npm inside the build (a TLS-intercepting egress proxy): the host's own, as a build secret.
ca="${NODE_EXTRA_CA_CERTS:-$(npm config get cafile 2>/dev/null || true)}"
[[ -n "$ca" && "$ca" != null && -s "$ca" ]] || { ca="$work/no-extra-ca.pem"; : >"$ca"; }

log "buildah bud -> $image"
# --layers: reuse unchanged steps (apt, npm ci) across runs; the npm cache is a cache mount, not a layer.
buildah bud --layers --isolation "$BUILDAH_ISOLATION" --network host --arch amd64 --os linux \
  --secret id=npm_ca,src="$ca" --build-arg BASE_IMAGE="$base" -f functions/Dockerfile -t "$image" .
t_built=$SECONDS

# Sizes from an OCI copy with uncompressed layers: their sum is the uncompressed size (what FC's 10 GB limit
# counts); gzip of each layer at the default level is what a registry stores and FC pulls.
oci="$work/oci-measure"
rm -rf "$oci"
buildah push --quiet --disable-compression "$image" "oci:$oci:measure" >/dev/null
read -r uncompressed compressed layers < <(node -e '
  const fs = require("fs"), p = require("path"), zlib = require("zlib"), dir = process.argv[1];
  const blob = (d) => p.join(dir, "blobs", ...d.split(":"));
  const idx = JSON.parse(fs.readFileSync(p.join(dir, "index.json"), "utf8"));
  const m = JSON.parse(fs.readFileSync(blob(idx.manifests[0].digest), "utf8"));
  (async () => {
    let raw = 0, gz = 0;
    for (const l of m.layers) {
      // buildah may reuse an already-gzipped blob despite --disable-compression: measure both ways round.
      const fd = fs.openSync(blob(l.digest), "r"), head = Buffer.alloc(2);
      fs.readSync(fd, head, 0, 2, 0);
      fs.closeSync(fd);
      const gzipped = head[0] === 0x1f && head[1] === 0x8b;
      const z = gzipped ? zlib.createGunzip() : zlib.createGzip();
      fs.createReadStream(blob(l.digest)).pipe(z);
      let n = 0;
      for await (const c of z) n += c.length;
      raw += gzipped ? n : l.size;
      gz += gzipped ? l.size : n;
    }
    console.log(raw, gz + m.config.size, m.layers.length);
  })();
' "$oci")
rm -rf "$oci"
image_id="$(buildah inspect --type image --format '{{.FromImageID}}' "$image")"

mb() { node -e 'console.log((Number(process.argv[1]) / 1e6).toFixed(1))' "$1"; }
cat >dist/image-build.json <<JSON
{"image":"$image","imageId":"$image_id","base":"$base","baseKind":"$base_kind","layers":$layers,"uncompressedBytes":$uncompressed,"compressedBytes":$compressed,"baseSeconds":$((t_base - t_start)),"budSeconds":$((t_built - t_base)),"totalSeconds":$((SECONDS - t_start))}
JSON
echo
echo "image            $image ($layers layers, id ${image_id:0:12})"
echo "base             $base ($base_kind, ready in $((t_base - t_start)) s)"
echo "size             $(mb "$uncompressed") MB uncompressed, $(mb "$compressed") MB compressed (gzip layers)"
echo "build time       $((t_built - t_base)) s bud, $((SECONDS - t_start)) s total"
echo "RESULT $(cat dist/image-build.json)"
