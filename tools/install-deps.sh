#!/bin/sh
# Installs the Debian packages skipc needs, only those missing.
# Idempotent: a machine that has everything is left alone (no apt-get at all).
# Usage: tools/install-deps.sh [extra-package...]
set -eu

# For tests only, never linked into skipc: the cross-compiler and qemu run an
# aarch64 deployment build; PyTorch and torchvision write the checkpoints
# that tests load as a PyTorch user's.
PACKAGES="build-essential clang libclang-rt-14-dev pkg-config python3 liblua5.4-dev libopenblas-dev
libcmocka-dev zlib1g-dev nettle-dev dataset-fashion-mnist gcc-aarch64-linux-gnu
libc6-dev-arm64-cross qemu-user python3-torch python3-torchvision $*"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing$missing" >&2
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
