#!/bin/sh
# Lesion switch: for each block k of tests/specs/lesion.lua, dropping skip
# k of the full network equals the network generated with block k cut.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/build_env.sh
out=$B/tests/lesion
mkdir -p "$out"
pkg="$(pkg-config --cflags openblas cmocka)"
libs="$(pkg-config --libs openblas cmocka) -lm -lpthread"
"$B/skipc" tests/specs/lesion.lua -o "$out/lesion_full.c" || exit 1
# shellcheck disable=SC2086
$CCT -std=c99 -O2 $SAN -Iruntime -I"$out" -c "$out/lesion_full.c" -o "$out/lesion_full.o" || exit 1
failed=0
# shellcheck disable=SC2086  # $SAN, $pkg and $libs are meant to split
for k in 1 2 3; do
    "$B/skipc" tests/specs/lesion.lua -D cut=$k -o "$out/lesion_cut$k.c" &&
    $CCT -std=c99 -O2 $SAN -Iruntime -I"$out" -c "$out/lesion_cut$k.c" -o "$out/lesion_cut$k.o" &&
    $CCT -std=c11 -O2 $SAN $pkg -Iruntime -I"$out" -DCUT=$k -DCUT_MODEL=lesion_cut${k}_model \
        -DCUT_HEADER="\"lesion_cut$k.h\"" -o "$out/check_cut$k" tests/lesion_check.c \
        "$out/lesion_full.o" "$out/lesion_cut$k.o" "$B/libskipcrt.a" $libs &&
    "$out/check_cut$k" || failed=$((failed + 1))
done
[ "$failed" -eq 0 ]
