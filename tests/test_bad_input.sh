#!/bin/sh
# docs/bad-input.md still says what skipc and the model binaries do with
# every class of bad input: tools/bad-input.sh runs each row again and
# compares (message, exit status, no input file changed).
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/build_env.sh
make -s "$B/mlp" || exit 1
SKIPC_BUILD=$B tools/bad-input.sh --check
