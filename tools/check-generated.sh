#!/bin/sh
# Fails, naming the file, if anything committed in generated/ differs from
# what the generator makes now from specs/models.txt.
# Usage: tools/check-generated.sh SKIPC
set -eu
skipc=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tools/gen-models.sh "$skipc" "$tmp"
stale=0
for f in "$tmp"/*; do
    name=$(basename "$f")
    if [ ! -f "generated/$name" ]; then
        echo "check-generated: generated/$name is missing (run make gen)" >&2; stale=1
    elif ! cmp -s "$f" "generated/$name"; then
        echo "check-generated: generated/$name is stale (run make gen):" >&2
        diff -u "generated/$name" "$f" | head -20 >&2; stale=1
    fi
done
for f in generated/*.c generated/*.h; do
    [ -e "$f" ] || continue
    [ -f "$tmp/$(basename "$f")" ] || { echo "check-generated: $f is not in specs/models.txt" >&2; stale=1; }
done
[ "$stale" -eq 0 ] && echo "check-generated: $(ls "$tmp" | wc -l) files up to date"
exit $stale
