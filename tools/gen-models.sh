#!/bin/sh
# Generates every model listed in specs/models.txt into a folder.
# Usage: tools/gen-models.sh SKIPC OUTDIR
# Manifest lines: NAME SPEC [-D key=value]...   ('#' starts a comment)
set -eu
skipc=$1; out=$2
mkdir -p "$out"
status=0
while read -r name spec rest; do
    case "$name" in ''|\#*) continue ;; esac
    # shellcheck disable=SC2086  # the -D options are meant to split
    if ! "$skipc" "$spec" -o "$out/$name.c" $rest; then
        echo "gen-models: $name ($spec $rest) failed" >&2
        status=1
    fi
done < specs/models.txt
exit $status
