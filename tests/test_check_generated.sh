#!/bin/sh
# The committed generated/ matches what the generator makes now.
cd "$(dirname "$0")/.." && exec tools/check-generated.sh build/skipc
