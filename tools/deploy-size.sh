#!/bin/sh
# What a deployment build costs on the target: deploy-size.sh OUT.c [CC]
# compiles OUT.c (skipc --infer output; with OUT_weights.c if there is one)
# and the runtime as make portable does, with -ffunction-sections and
# -fstack-usage, links them to a program that calls NAME_predict with
# unused sections dropped, and prints:
#   code     bytes of machine code (.text) of the model and the runtime
#            functions it reaches, beyond an empty program's
#   weights  bytes of embedded weights (0 when params come from the caller)
#   arena    bytes of arena for one sample (from OUT.h)
#   stack    the largest stack frame among the functions linked in
# CC defaults to gcc; an aarch64-linux-gnu-gcc gives the aarch64 figures.
set -eu
[ $# -ge 1 ] || { echo "usage: tools/deploy-size.sh OUT.c [CC]" >&2; exit 2; }
c=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); cc=${2:-gcc}
case $cc in   # aarch64-linux-gnu-gcc -> aarch64-linux-gnu-size, -nm
    *-gcc) tools=${cc%gcc} ;;
    *) tools="" ;;
esac
dir=$(dirname "$c"); name=$(basename "$c" .c)
[ -f "$dir/$name.h" ] || { echo "$c: error: no $name.h beside it" >&2; exit 1; }
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
flags="-std=c11 -O2 -ffp-contract=off -DRT_NO_BLAS -DRT_PORTABLE -D_POSIX_C_SOURCE=200809L
       -ffunction-sections -fdata-sections -fstack-usage"
weights=""; [ -f "$dir/${name}_weights.c" ] && weights="$dir/${name}_weights.c"
objs=""
for f in "$c" $weights "$here"/runtime/*.c; do
    o="$tmp/$(basename "$f" .c).o"
    # shellcheck disable=SC2086
    (cd "$tmp" && $cc $flags -I"$here/runtime" -I"$dir" -Wa,-I"$dir" -c "$f" -o "$o")
    objs="$objs $o"
done
cat > "$tmp/main.c" <<MAIN
#include "$name.h"
int main(int argc, char **argv) {
    (void)argv;
    return ${name}_predict(0, 0, 0, argc, 0);
}
MAIN
cat > "$tmp/empty.c" <<'MAIN'
int main(void) { return 0; }
MAIN
# shellcheck disable=SC2086
$cc -O2 -I"$here/runtime" -I"$dir" -ffunction-sections -Wl,--gc-sections -o "$tmp/prog" \
    "$tmp/main.c" $objs -lm -lpthread
$cc -O2 -o "$tmp/empty" "$tmp/empty.c"
text() { "${tools}size" -A "$1" | awk '$1 == ".text" {print $2}'; }
code=$(( $(text "$tmp/prog") - $(text "$tmp/empty") ))
wbytes=0
[ -n "$weights" ] && wbytes=$("${tools}size" -A "$tmp/prog" | awk '$1 == ".rodata" {print $2}')
arena=$(sed -n "s/.*Arena: \([0-9]*\) bytes for one sample.*/\1/p" "$dir/$name.h")
# the largest frame among functions that survived the link
"${tools}nm" "$tmp/prog" | awk '{print $3}' | sort -u > "$tmp/linked"
stack=$(cat "$tmp"/*.su | awk -F'\t' '{split($1, a, ":"); print a[4], $2}' |
        sort -k1,1 | join - "$tmp/linked" 2>/dev/null | sort -k2 -n | tail -1)
echo "$name: code $code bytes, weights $wbytes bytes (.rodata), arena $arena bytes" \
     "(batch 1), largest stack frame $(echo "$stack" | awk '{print $2, "bytes (" $1 ")"}')"
