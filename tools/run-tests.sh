#!/bin/sh
# Runs every test program given, then prints one summary line.
# Each program is a cmocka group (or a shell test); a program counts as
# passed when it exits 0.
set -u
passed=0; failed=0; failed_names=""
for t in "$@"; do
    echo "=== $t"
    if "$t"; then passed=$((passed + 1))
    else failed=$((failed + 1)); failed_names="$failed_names $t"; fi
done
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
