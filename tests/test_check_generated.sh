#!/bin/sh
# The committed generated/ matches what the generator makes now.
cd "$(dirname "$0")/.." && . tests/build_env.sh && exec tools/check-generated.sh "$B/skipc"
