#!/bin/sh
# The reference side of make bench, installed for the benchmark only (never
# by make test; skipc does not depend on any of it): Debian's PyTorch, and
# ONNX Runtime's Node.js package into bench/node_modules. Its install script
# would download extra files from a host this machine cannot reach;
# --ignore-scripts keeps the CPU library that ships inside the package.
# Idempotent: installs only what is missing.
set -eu
cd "$(dirname "$0")/.."
extra=""
command -v node > /dev/null 2>&1 || extra="nodejs"
command -v npm > /dev/null 2>&1 || extra="$extra npm"
# shellcheck disable=SC2086
tools/install-deps.sh python3-torch $extra
if [ ! -d bench/node_modules/onnxruntime-node ]; then
    echo "bench: installing onnxruntime-node" >&2
    (cd bench && npm install --ignore-scripts --no-audit --no-fund --silent)
fi
