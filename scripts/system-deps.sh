#!/usr/bin/env bash
# Debian packages ossferry needs on a build/test machine. Idempotent; run as root.
#   libisal-dev/libisal2  ISA-L for the native CRC-64 + igzip addon
#   xz-utils              independent CRC-64 cross-check in tests (xz -lvv)
#   pigz, gzip            reference compressor (bench) and real gzip decoders in tests
#   openssh-server/client real sshd on loopback for SFTP tests
#   openssl               a throw-away test CA for https sources in tests
#   golang-go, golang-github-aliyun-aliyun-oss-go-sdk-dev
#                         the official OSS Go SDK as a second-language client of the local OSS
#                         (test/conformance-go, built in GOPATH mode from /usr/share/gocode)
#   buildah, debootstrap  image build without a Docker daemon (issue 7), only with --image
set -euo pipefail
pkgs=(libisal-dev libisal2 xz-utils pigz gzip openssh-server openssh-client openssl golang-go golang-github-aliyun-aliyun-oss-go-sdk-dev)
if [[ "${1:-}" == "--image" ]]; then pkgs+=(buildah debootstrap); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} == 0)); then exit 0; fi
echo "[ossferry] installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
