#!/bin/sh
# Generator tests: every bad spec in tests/bad_specs/ gives exactly its
# expected one-line message (file:line) and exit status and leaves no output
# file behind; generation is byte-for-byte deterministic and independent of
# option order.
#
# A bad spec states what it expects in its first lines:
#   -- expect: <an exact stderr line>    (one per line; "blocks.lua:NN" stands for any line
#                                         of the block library; none: stderr stays empty)
#   -- args: <extra command-line arguments>
#   -- status: <exit status, default 1>
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/build_env.sh
skipc=$B/skipc
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0

ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

header() { sed -n "s/^-- $1: //p" "$2" | head -1; }

check_bad_spec() {
    spec=$1
    expect=$(sed -n 's/^-- expect: //p' "$spec"); args=$(header args "$spec")
    status=$(header status "$spec")
    status=${status:-1}
    rm -rf "$tmp/out"; mkdir "$tmp/out"
    # shellcheck disable=SC2086
    "$skipc" "$spec" -o "$tmp/out/m.c" $args 2>"$tmp/err" >/dev/null
    got=$?
    actual=$(sed -E 's/blocks\.lua:[0-9]+/blocks.lua:NN/' "$tmp/err")
    if [ "$got" -ne "$status" ]; then fail "$spec: exit status $got, expected $status"; return; fi
    if [ "$actual" != "$expect" ]; then
        fail "$spec: stderr was:"; echo "  $actual"; echo "  expected:"; echo "  $expect"; return
    fi
    if [ "$status" -ne 0 ] && [ -n "$(ls -A "$tmp/out")" ]; then
        fail "$spec: left files behind: $(ls "$tmp/out")"; return
    fi
    ok
}

for spec in tests/bad_specs/*.lua; do check_bad_spec "$spec"; done

# Determinism: the whole manifest twice, and with options in another order.
tools/gen-models.sh "$skipc" "$tmp/a" && tools/gen-models.sh "$skipc" "$tmp/b"
if diff -r "$tmp/a" "$tmp/b" >/dev/null; then ok; else fail "two generations differ"; fi
"$skipc" -D hidden=64 -o "$tmp/a/m1.c" specs/mlp.lua
"$skipc" specs/mlp.lua -Dhidden=64 -o "$tmp/b/m1.c"
if cmp -s "$tmp/a/m1.c" "$tmp/b/m1.c"; then ok; else fail "option order changes the output"; fi

# Batchnorm + relu outputs are recomputed in backward unless --no-remat, which
# the banner records; the recomputing model needs less arena.
"$skipc" specs/resnet.lua -D depth=8 -o "$tmp/a/r8.c"
"$skipc" specs/resnet.lua -D depth=8 --no-remat -o "$tmp/b/r8.c"
per() { sed -n '/INFER/!s/.*_ARENA_PER_SAMPLE ((size_t)\([0-9]*\)).*/\1/p' "$1"; }
if grep -q rt_batchnorm_relu_recompute "$tmp/a/r8.c" && ! grep -q recompute "$tmp/b/r8.c" &&
    grep -q "resnet.lua -D depth=8 --no-remat; do not edit" "$tmp/b/r8.c" &&
    [ "$(per "$tmp/a/r8.h")" -lt "$(per "$tmp/b/r8.h")" ]; then ok
else fail "--no-remat"; fi

# Hostile names: comment ends and starts, quotes, backslashes and trigraphs
# in layer and scope names, in a -D value and in the spec's path (with a
# newline in it). The output compiles cleanly and holds every name byte
# for byte.
hdir="$tmp/we*"
mkdir -p "$hdir"
hspec="$hdir/$(printf 'n\nl"q')".lua
cp tests/specs/hostile_names.lua "$hspec"
hostile_ok() {
    "$skipc" "$hspec" -D 'tag=*/ x; /*' -o "$tmp/hostile.c" || return 1
    for cc in gcc clang; do
        $cc -std=c99 -Wall -Wextra -Werror -pedantic -fsyntax-only -Iruntime -I"$tmp" \
            "$tmp/hostile.c" || return 1
    done
    # shellcheck disable=SC2046,SC2086  # $SAN and the libraries are meant to split
    $CCT -std=c99 $SAN -Iruntime -I"$tmp" -DSKIPC_MODEL=hostile_model \
        -DSKIPC_MODEL_HEADER='"hostile.h"' -o "$tmp/names" tests/names_check.c \
        "$tmp/hostile.c" "$B/libskipcrt.a" $(pkg-config --libs openblas) -lm -lpthread || return 1
    "$tmp/names" > "$tmp/names.txt" || return 1
    for want in 'tensor a*/ int evil; /*b.weight' "tensor it's ?? fine.bias" \
                'block s"q??/.r\"x*/ x; /*' "layer a*/ int evil; /*b at $hspec:6"; do
        grep -qxF "$want" "$tmp/names.txt" || { echo "missing: $want"; return 1; }
    done
}
if hostile_ok; then ok; else fail "hostile names"; fi

# Outputs never destroy inputs: the spec given as the output's header is
# refused and left as it was.
cp specs/mlp.lua "$tmp/self.h"
if "$skipc" "$tmp/self.h" -o "$tmp/self.c" 2>"$tmp/err"; then fail "spec overwritten by -o"
elif cmp -s specs/mlp.lua "$tmp/self.h" && grep -q "would overwrite the spec" "$tmp/err"; then ok
else fail "spec as output: $(cat "$tmp/err")"; fi

# Temporaries are created exclusively (mkstemp: O_CREAT|O_EXCL), so a
# symlink planted at their name cannot redirect the write (strace shows the
# open; skipped where strace is missing).
if command -v strace >/dev/null 2>&1; then
    strace -f -e trace=openat -o "$tmp/trace" "$skipc" specs/mlp.lua -o "$tmp/excl.c" 2>/dev/null
    creates=$(grep -c 'excl\.[ch]\.[A-Za-z0-9]\{6\}".*O_CREAT' "$tmp/trace")
    exclusive=$(grep 'excl\.[ch]\.[A-Za-z0-9]\{6\}".*O_CREAT' "$tmp/trace" | grep -c O_EXCL)
    if [ "$creates" -eq 2 ] && [ "$exclusive" -eq 2 ]; then ok
    else fail "temporaries not created exclusively: $(grep excl "$tmp/trace")"; fi
fi

# A FIFO as spec is refused at once instead of blocking.
mkfifo "$tmp/fifo.lua"
if timeout 10 "$skipc" "$tmp/fifo.lua" -o "$tmp/fifo.c" 2>"$tmp/err"; then fail "FIFO spec accepted"
elif grep -q "fifo.lua: error: not a regular file" "$tmp/err"; then ok
else fail "FIFO spec: $(cat "$tmp/err")"; fi

# A full disk (here a file size limit): an error, the previous outputs
# untouched, no temporary left behind.
mkdir "$tmp/full"
echo old > "$tmp/full/big.c"; echo old > "$tmp/full/big.h"
if (ulimit -f 8; "$skipc" specs/resnet.lua -o "$tmp/full/big.c" 2>"$tmp/err"); then
    fail "write past the file size limit succeeded"
elif [ "$(ls "$tmp/full")" = "big.c
big.h" ] && [ "$(cat "$tmp/full/big.c" "$tmp/full/big.h")" = "old
old" ] && grep -q "cannot write it" "$tmp/err"; then ok
else fail "file size limit: $(ls "$tmp/full") $(cat "$tmp/err")"; fi

# Every committed model compiles warning-free under gcc and clang.
for f in generated/*.c; do
    for cc in gcc clang; do
        if $cc -std=c99 -Wall -Wextra -Werror -pedantic -fsyntax-only -Iruntime -Igenerated "$f"; then ok
        else fail "$f does not compile cleanly with $cc"; fi
    done
done

# No committed generated line is longer than 99 columns, and none ends in a blank.
long=$(awk 'length > 99 || /[ \t]$/ {print FILENAME ":" FNR; exit}' generated/*.c generated/*.h)
if [ -z "$long" ]; then ok; else fail "generated line too long or with a trailing blank: $long"; fi

# A failed write leaves nothing, and the status says so.
if "$skipc" specs/mlp.lua -o "$tmp/missing/dir/m.c" 2>/dev/null; then fail "write to a missing folder succeeded"
else ok; fi
if "$skipc" specs/mlp.lua -o "$tmp/bad-name.c" 2>/dev/null || [ -e "$tmp/bad-name.c" ]; then
    fail "a model name that is not a C identifier was accepted"
else ok; fi
if "$skipc" --help | grep -q "usage: skipc"; then ok; else fail "--help"; fi

echo "test_generator: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
