#!/bin/sh
# Deployment builds (skipc --infer). For every model in specs/models.txt:
# generate its deployment build, compile it with gcc and clang under
# -std=c99 -Wall -Wextra -Werror -pedantic, link it with the training build
# and tests/deploy_check.c, and check that its outputs equal the training
# build's evaluation-mode outputs within 1e-5 relative L2. For the models
# named in EMBED also a build embedding a checkpoint (--weights): its
# weights must be the bits NAME_fold makes, its outputs those of params.
# Then the same deployment build linked with the portable runtime (no
# OpenBLAS, no -march=native: make portable) must give the OpenBLAS
# build's outputs within 1e-5, and for the models in CROSS so must an
# aarch64 build (make cross) run by qemu; without the cross compiler or
# qemu that check is reported as skipped, loudly.
# Usage: tests/test_deploy.sh [NAME...]   (default: all)
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/build_env.sh
out=$B/tests/deploy
mkdir -p "$out"
pkg="$(pkg-config --cflags openblas zlib)"
libs="$(pkg-config --libs openblas zlib) -lm -lpthread"
warn="-std=c99 -Wall -Wextra -Werror -pedantic"
EMBED="resnet20 densenet40 resnet18"
CROSS="resnet20 densenet40"
RANDOM_SEEDS=$(seq 1 12)
[ $# -gt 0 ] && RANDOM_SEEDS=""
PORT=build-portable
XB=build-aarch64
portable="-std=c99 -O2 -Wall -Wextra -Werror -pedantic -D_POSIX_C_SOURCE=200809L"
cross_ok=1
[ -n "$SAN" ] && echo "test_deploy: sanitizer build: the portable and aarch64 checks run in plain make test"
if [ -z "$SAN" ] && { ! command -v aarch64-linux-gnu-gcc >/dev/null ||
   ! command -v qemu-aarch64 >/dev/null || [ ! -f "$XB/libskipcrt.a" ]; }; then
    cross_ok=0
    echo "test_deploy: SKIPPED the aarch64 check: no aarch64-linux-gnu-gcc, qemu-aarch64 or"
    echo "test_deploy: SKIPPED $XB/libskipcrt.a (make deps installs them, make cross builds it)"
fi
failed=0; ran=0

upper() { echo "$1" | tr '[:lower:]' '[:upper:]'; }

compile() {   # FILE.c OBJ
    # shellcheck disable=SC2086
    clang $warn -O1 -Iruntime -I"$out" -c "$1" -o "${2%.o}.clang.o" || return 1
    # shellcheck disable=SC2086
    $CCT $warn -O2 -march=native $SAN -Iruntime -I"$out" -Wa,-I"$out" -c "$1" -o "$2"
}

check_deploy() {
    name=$1; shift
    spec=$1; shift
    embed=""
    "$B/skipc" "$spec" -o "$out/$name.c" "$@" 2> "$out/$name.gen.log" ||
        { cat "$out/$name.gen.log"; return 1; }
    # shellcheck disable=SC2086
    "$B/skipc" "$spec" -o "$out/${name}_deploy.c" --infer "$@" 2>/dev/null || return 1
    # shellcheck disable=SC2086
    $CCT -std=c99 -O2 -march=native $SAN $pkg -Iruntime -I"$out" -c "$out/$name.c" \
        -o "$out/$name.o" || return 1
    compile "$out/${name}_deploy.c" "$out/${name}_deploy.o" || return 1
    build_check "$name" "" || return 1
    case " $EMBED " in *" $name "*) embed=1 ;; esac
    if [ -n "$embed" ]; then
        "$out/check_$name" save "$out/$name.safetensors" || return 1
        # shellcheck disable=SC2086
        "$B/skipc" "$spec" -o "$out/${name}_embed.c" --infer --weights "$out/$name.safetensors" \
            "$@" || return 1
        compile "$out/${name}_embed.c" "$out/${name}_embed.o" || return 1
        compile "$out/${name}_embed_weights.c" "$out/${name}_embed_weights.o" || return 1
        up=$(upper "$name")
        extra="-DEMBED=${name}_embed -DEMBED_UP=${up}_EMBED -DEMBED_HEADER=\"${name}_embed.h\"
               $out/${name}_embed.o $out/${name}_embed_weights.o"
        build_check "$name" "$extra" || return 1
    fi
    if [ -n "$embed" ]; then "$out/check_$name" check "$out/$name.safetensors" || return 1
    else "$out/check_$name" check || return 1; fi
    # The portable and aarch64 builds are never sanitized: the plain run checks them.
    [ -n "$SAN" ] || check_other_builds "$name"
}

# The OpenBLAS build's outputs on fixed inputs, then the portable and
# aarch64 builds' against them.
check_other_builds() {
    name=$1
    "$out/check_$name" fold "$out/$name.params" || return 1
    # shellcheck disable=SC2086
    $CCT -std=c11 -O2 -D_POSIX_C_SOURCE=200809L $SAN -Iruntime -I"$out" \
        -DDEPLOY="${name}_deploy" -DDEPLOY_UP="$(upper "$name")_DEPLOY" \
        -DDEPLOY_HEADER="\"${name}_deploy.h\"" -o "$out/run_$name" tests/deploy_run.c \
        "$out/${name}_deploy.o" "$B/libskipcrt.a" $libs || return 1
    "$out/run_$name" "$out/$name.params" "$out/$name.out" || return 1
    run_build "$name" gcc "$PORT" "" portable || return 1
    case " $CROSS " in *" $name "*) ;; *) return 0 ;; esac
    [ "$cross_ok" -eq 1 ] || return 0
    run_build "$name" aarch64-linux-gnu-gcc "$XB" "-static" aarch64 qemu-aarch64
}

# NAME CC RUNTIME-DIR LDFLAGS TAG [RUNNER]: the deployment build compiled by
# CC without -march, linked with RUNTIME-DIR's runtime, run (by RUNNER).
run_build() {
    exe="$out/run_$1_$5"
    # shellcheck disable=SC2086
    "$2" $portable -Iruntime -I"$out" -c "$out/$1_deploy.c" -o "$out/$1_deploy.$5.o" || return 1
    # shellcheck disable=SC2086
    "$2" -std=c11 -O2 -D_POSIX_C_SOURCE=200809L $4 -Iruntime -I"$out" \
        -DDEPLOY="$1_deploy" -DDEPLOY_UP="$(upper "$1")_DEPLOY" \
        -DDEPLOY_HEADER="\"$1_deploy.h\"" -o "$exe" tests/deploy_run.c "$out/$1_deploy.$5.o" \
        "$3/libskipcrt.a" -lm -lpthread || return 1
    ${6:-} "$exe" "$out/$1.params" -c "$out/$1.out"
}

build_check() {   # NAME EXTRA
    # shellcheck disable=SC2086
    $CCT -std=c11 -O2 -march=native -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L $SAN $pkg \
        -Iruntime -Idriver -I"$out" \
        -DSKIPC_MODEL="$1_model" -DSKIPC_MODEL_HEADER="\"$1.h\"" \
        -DDEPLOY="$1_deploy" -DDEPLOY_UP="$(upper "$1")_DEPLOY" \
        -DDEPLOY_HEADER="\"$1_deploy.h\"" $2 \
        -o "$out/check_$1" tests/deploy_check.c "$out/$1.o" "$out/$1_deploy.o" \
        "$B"/driver/ckpt.o "$B"/driver/io_*.o "$B"/driver/drv_util.o "$B/libskipcrt.a" $libs
}

while read -r name rest; do
    case "$name" in ''|\#*) continue ;; esac
    if [ $# -gt 0 ]; then
        case " $* " in *" $name "*) ;; *) continue ;; esac
    fi
    ran=$((ran + 1))
    # shellcheck disable=SC2086
    if ! check_deploy "$name" $rest; then
        echo "test_deploy: $name FAILED"; failed=$((failed + 1))
    fi
done < specs/models.txt
# and topologies nobody wrote (tests/specs/random.lua, as make proptest draws
# them): every op, batchnorms after convolutions with several readers,
# grouped and strided convolutions, linear layers before batchnorms
for seed in $RANDOM_SEEDS; do
    ran=$((ran + 1))
    if ! check_deploy "random$seed" tests/specs/random.lua -D seed="$seed"; then
        echo "test_deploy: random$seed (tests/specs/random.lua -D seed=$seed) FAILED"
        failed=$((failed + 1))
    fi
done
echo "test_deploy: $ran models, $failed failed"
[ "$failed" -eq 0 ] && [ "$ran" -gt 0 ]
