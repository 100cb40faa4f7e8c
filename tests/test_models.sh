#!/bin/sh
# Whole-network tests. For every small model in tests/models.txt: generate
# it, compile the generated C with gcc and clang under
# -std=c99 -Wall -Wextra -Werror -pedantic, link it with tests/model_check.c
# and run the gradient check (and the smoke training where marked).
# Usage: tests/test_models.sh [NAME...]   (default: all)
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/build_env.sh
out=$B/tests/models
mkdir -p "$out"
pkg="$(pkg-config --cflags openblas cmocka)"
libs="$(pkg-config --libs openblas cmocka) -lm -lpthread"
warn="-std=c99 -Wall -Wextra -Werror -pedantic"
failed=0; ran=0

check_model() {
    name=$1; shift
    spec=$1; shift
    defs=""; smoke=""
    for a in "$@"; do
        case "$a" in
            smoke) smoke="$smoke -DSMOKE_STEPS=60" ;;
            rtol=*) smoke="$smoke -DRTOL=${a#rtol=}" ;;
            *) defs="$defs $a" ;;
        esac
    done
    # shellcheck disable=SC2086
    "$B/skipc" "$spec" -o "$out/$name.c" $defs || return 1
    clang $warn -O1 -Iruntime -I"$out" -c "$out/$name.c" -o "$out/$name.clang.o" || return 1
    # shellcheck disable=SC2086
    $CCT $warn -O2 -march=native $SAN $pkg -Iruntime -I"$out" -c "$out/$name.c" -o "$out/$name.o" || return 1
    # shellcheck disable=SC2086
    $CCT -std=c11 -O2 -march=native $SAN $pkg $smoke -Iruntime -I"$out" \
        -DSKIPC_MODEL="${name}_model" -DSKIPC_MODEL_HEADER="\"$name.h\"" \
        -o "$out/check_$name" tests/model_check.c "$out/$name.o" "$B/libskipcrt.a" $libs || return 1
    "$out/check_$name"
}

while read -r name rest; do
    case "$name" in ''|\#*) continue ;; esac
    if [ $# -gt 0 ]; then
        case " $* " in *" $name "*) ;; *) continue ;; esac
    fi
    ran=$((ran + 1))
    # shellcheck disable=SC2086
    if ! check_model "$name" $rest; then
        echo "test_models: $name FAILED"; failed=$((failed + 1))
    fi
done < tests/models.txt
echo "test_models: $ran models, $failed failed"
[ "$failed" -eq 0 ] && [ "$ran" -gt 0 ]
