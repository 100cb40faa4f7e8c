#!/bin/sh
# The bad-input table: every class of bad input tried on skipc and on a
# model binary (build/mlp), and what the user sees: the message and the
# exit status. Each case runs in a scratch folder holding copies of its
# input files; a case also fails if any of them changed.
#
# Usage: tools/bad-input.sh            print docs/bad-input.md
#        tools/bad-input.sh --check    compare with docs/bad-input.md
#                                      (make test), exit 1 on a difference
set -u
cd "$(dirname "$0")/.." || exit 1
B=${SKIPC_BUILD:-build}
mode=${1:-print}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
damaged=0

# ---------------------------------------------------------------- fixtures
fx=$tmp/fx
mkdir -p "$fx/data"
# A trained checkpoint and a dataset folder of 200 Fashion-MNIST images.
real=/usr/share/datasets/fashion-mnist
"$B/mlp" train --epochs 1 --limit-train 256 --limit-test 64 --batch 64 --data "$real" \
    --out "$fx/good.st" > /dev/null 2>&1 || { echo "bad-input: cannot train the fixture" >&2; exit 1; }
python3 - "$fx" "$real" <<'PY'
import gzip, json, struct, sys
fx, real = sys.argv[1], sys.argv[2]
raw = open(fx + "/good.st", "rb").read()
(hlen,) = struct.unpack("<Q", raw[:8])
head, data = json.loads(raw[8:8 + hlen]), raw[8 + hlen:]

def st(name, header=None, data=data, hbytes=None, length=None):
    hb = hbytes if hbytes is not None else json.dumps(header).encode()
    n = length if length is not None else len(hb)
    open(fx + "/" + name, "wb").write(struct.pack("<Q", n) + hb + data)

def edit(f):
    h = json.loads(json.dumps(head))
    f(h)
    return h

tensors = [k for k in head if k != "__metadata__"]
t0 = tensors[0]
open(fx + "/trunc.st", "wb").write(raw[:len(raw) // 2])
open(fx + "/trunc_header.st", "wb").write(raw[:20])
st("dtype_f16.st", edit(lambda h: h[t0].update(dtype="F16")))
st("dtype_unknown.st", edit(lambda h: h[t0].update(dtype="Q8")))
st("shape.st", edit(lambda h: h[t0].update(shape=[h[t0]["shape"][0] + 1] + h[t0]["shape"][1:])))
st("lying.st", edit(lambda h: h[t0].update(data_offsets=[0, len(data) + 4096])))
st("overlap.st", edit(lambda h: h[tensors[1]].update(
    data_offsets=[h[t0]["data_offsets"][0], h[t0]["data_offsets"][0] +
                  h[tensors[1]]["data_offsets"][1] - h[tensors[1]]["data_offsets"][0]])))
st("huge_header.st", head, length=1 << 50)
st("bad_json.st", hbytes=json.dumps(head).encode()[:-1] + b"]")
st("not_utf8.st", hbytes=json.dumps(head).encode().replace(b'"format"', b'"form\xffat"'))
dup = json.dumps(head).encode()
st("duplicate.st", hbytes=dup[:-1] + b', "' + t0.encode() + b'": ' +
   json.dumps(head[t0]).encode() + b"}")
st("nan_norm.st", edit(lambda h: h["__metadata__"].update(norm_mean="nan")))

# Tensors re-packed without one of them, or with one more.
def repack(name, keep, extra=None):
    h, body = {"__metadata__": head["__metadata__"]}, b""
    for k in keep:
        lo, hi = head[k]["data_offsets"]
        h[k] = dict(head[k], data_offsets=[len(body), len(body) + hi - lo])
        body += data[lo:hi]
    if extra:
        h[extra] = {"dtype": "F32", "shape": [2], "data_offsets": [len(body), len(body) + 8]}
        body += b"\0" * 8
    st(name, h, data=body)
repack("missing.st", tensors[1:])
repack("extra.st", tensors, extra="fc3.weight")

# IDX datasets: a small good one, then damaged copies of its files.
def idx(dims, body):
    return struct.pack(">BBBB", 0, 0, 8, len(dims)) + b"".join(struct.pack(">I", d) for d in dims) + body
imgs = gzip.open(real + "/train-images-idx3-ubyte.gz").read()[16:16 + 200 * 784]
labs = gzip.open(real + "/train-labels-idx1-ubyte.gz").read()[8:8 + 200]
def dataset(name, images, labels):
    import os
    d = fx + "/" + name
    os.makedirs(d, exist_ok=True)
    for split in ("train", "t10k"):
        open(d + "/%s-images-idx3-ubyte" % split, "wb").write(images)
        open(d + "/%s-labels-idx1-ubyte" % split, "wb").write(labels)
good_i, good_l = idx([200, 28, 28], imgs), idx([200], labs)
dataset("d_good", good_i, good_l)
dataset("d_magic", b"\x01\x02" + good_i[2:], good_l)
dataset("d_dims", idx([200, 28, 14], imgs[:200 * 392]), good_l)
dataset("d_trunc", good_i[:len(good_i) // 2], good_l)
dataset("d_labels", good_i, idx([200], bytes([labs[0] % 10] * 199 + [12])))
dataset("d_count", good_i, idx([150], labs[:150]))
bomb = gzip.compress(idx([1, 8192, 8192], b"\0" * (8192 * 8192)), 9)
import os
os.makedirs(fx + "/d_bomb", exist_ok=True)
for split in ("train", "t10k"):
    open(fx + "/d_bomb/%s-images-idx3-ubyte.gz" % split, "wb").write(bomb)
    open(fx + "/d_bomb/%s-labels-idx1-ubyte" % split, "wb").write(idx([1], b"\0"))

# .npy inputs for predict.
def npy(name, descr, shape, body, fortran=False, magic=b"\x93NUMPY"):
    h = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        descr, fortran, ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else ""))
    h = h.encode() + b" " * ((64 - (10 + len(h) + 1) % 64) % 64) + b"\n"
    open(fx + "/" + name, "wb").write(magic + b"\x01\x00" + struct.pack("<H", len(h)) + h + body)
x = struct.pack("<%df" % (2 * 784), *([0.5] * (2 * 784)))
npy("x_good.npy", "<f4", (2, 1, 28, 28), x)
npy("x_magic.npy", "<f4", (2, 1, 28, 28), x, magic=b"\x93NUMPZ")
npy("x_dims.npy", "<f4", (2, 3, 28, 28), x * 3)
npy("x_trunc.npy", "<f4", (2, 1, 28, 28), x[:100])
npy("x_big_endian.npy", ">f4", (2, 1, 28, 28), x)
npy("x_f64.npy", "<f8", (2, 1, 28, 28), x * 2)
npy("x_fortran.npy", "<f4", (2, 1, 28, 28), x, fortran=True)
npy("y_good.npy", "<i4", (2,), struct.pack("<2i", 1, 2))
npy("y_range.npy", "<i4", (2,), struct.pack("<2i", 1, 99))
npy("y_count.npy", "<i4", (3,), struct.pack("<3i", 1, 2, 3))
PY
cp specs/mlp.lua "$fx/spec.c"
cp specs/mlp.lua "$fx/spec.h"
printf 'while true do end\n' > "$fx/loop.lua"
printf 'local function f() return f() + 1 end\nreturn f()\n' > "$fx/recursion.lua"
printf 'local t = {}\nfor i = 1, 1e9 do t[i] = ("x"):rep(64) .. i end\n' > "$fx/memory.lua"
printf 'local x = input{4}\nlocal y = x\nfor i = 1, 100 do y = relu(y) end\n%s\n' \
    'return model{input = x, output = linear(y, 2)}' > "$fx/layers.lua"
printf 'local m = require("selfreq")\nreturn m\n' > "$fx/selfreq.lua"
printf 'local f = io.open("/etc/passwd")\n' > "$fx/io.lua"
printf 'os.execute("touch /tmp/owned")\n' > "$fx/os.lua"
printf 'return load("return 1")()\n' > "$fx/load.lua"
printf 'return string.dump(print)\n' > "$fx/dump.lua"
printf 'getmetatable("").__index = {}\n' > "$fx/strmeta.lua"
printf 'require("..etc.passwd")\n' > "$fx/require.lua"
printf 'error(setmetatable({}, {__tostring = function() return "boom" end}))\n' > "$fx/errobj.lua"
printf 'error(function() end)\n' > "$fx/errfn.lua"
printf 'local co = coroutine.create(function() end)\n' > "$fx/coroutine.lua"
printf 'collectgarbage("stop")\nlocal t = {}\nfor i = 1, 1e9 do t[i] = ("x"):rep(64) .. i end\n' \
    > "$fx/gcstop.lua"
printf 'local x = input{1, 8, 8}\nreturn model{input = x, output = flatten(conv2d(x, 2, 3, ' \
    > "$fx/syntax.lua"
mkfifo "$fx/fifo.lua" "$fx/fifo.st" "$fx/fifo.npy"
mkdir "$fx/d_fifo"
mkfifo "$fx/d_fifo/t10k-images-idx3-ubyte" "$fx/d_fifo/t10k-labels-idx1-ubyte"

# ---------------------------------------------------------------- cases
snapshot() { (cd "$fx" && find . -type f -exec cksum {} + | sort; find . ! -type f | sort); }

# row CLASS INPUT EXPECTED_STATUS COMMAND...: runs the command in $fx and
# prints a table row with what it wrote on stderr (paths made relative).
row() {
    class=$1; input=$2; want=$3; shift 3
    before=$(snapshot)
    got=$(cd "$fx" && timeout 60 "$@" 2>&1 >/dev/null)
    status=$?
    [ "$(snapshot)" = "$before" ] || { damaged=1; echo "bad-input: '$input' changed a file" >&2; }
    [ "$status" -eq "$want" ] || { damaged=1; echo "bad-input: '$input' exited $status" >&2; }
    msg=$(printf '%s' "$got" | sed -e "s|$fx/||g" -e "s|$PWD/$B/||g" -e "s|$PWD/||g" -e 's/|/\\|/g' |
          awk 'NF' | sed -e 's/$/<br>/' | tr -d '\n' | sed -e 's/<br>$//')
    # shellcheck disable=SC2016  # the backquotes are markdown, not a command
    printf '| %s | %s | `%s` | %s |\n' "$class" "$input" "$msg" "$status"
}

skipc=$PWD/$B/skipc
mlp=$PWD/$B/mlp
{
echo "# What skipc and the model binaries do with bad input"
echo
echo "Every row was run by \`tools/bad-input.sh\`, which \`make test\` runs to check"
echo "that this table still holds: the message (stderr, paths shortened) and the"
echo "exit status, and that none of the files the command was given changed."
echo "Status 1: the input is bad; 2: the command line is; 130: interrupted."
echo
echo "| class | input | what the user sees | status |"
echo "|---|---|---|---|"
for f in tests/bad_specs/*.lua; do
    case $f in */pcall_recovery.lua|*/dead_layer.lua|*/unused_input.lua) continue ;; esac
    cp "$f" "$fx/$(basename "$f")"
    args=$(sed -n 's/^-- args: //p' "$f" | head -1)
    # shellcheck disable=SC2086
    row spec "$(basename "$f")" 1 "$skipc" "$(basename "$f")" -o out.c $args
    rm -f "$fx/$(basename "$f")"
done
row spec "syntax error (unfinished call)" 1 "$skipc" syntax.lua -o out.c
row spec "a loop that never ends" 1 "$skipc" loop.lua -o out.c --max-instructions 10000000
row spec "endless recursion" 1 "$skipc" recursion.lua -o out.c
row spec "a module that requires itself" 1 "$skipc" selfreq.lua -o out.c
row spec "a table that grows without end" 1 "$skipc" memory.lua -o out.c --max-memory 16
row spec "more layers than allowed" 1 "$skipc" layers.lua -o out.c --max-layers 50
row sandbox "io.open" 1 "$skipc" io.lua -o out.c
row sandbox "os.execute" 1 "$skipc" os.lua -o out.c
row sandbox "load (text or binary chunks)" 1 "$skipc" load.lua -o out.c
row sandbox "string.dump" 1 "$skipc" dump.lua -o out.c
row sandbox "the string metatable" 1 "$skipc" strmeta.lua -o out.c
row sandbox "require outside the spec's folder" 1 "$skipc" require.lua -o out.c
row sandbox "an error object that is a table" 1 "$skipc" errobj.lua -o out.c
row sandbox "an error object that is a function" 1 "$skipc" errfn.lua -o out.c
row sandbox "coroutines" 1 "$skipc" coroutine.lua -o out.c
row sandbox "collectgarbage(\"stop\") before a memory bomb" 1 "$skipc" gcstop.lua -o out.c \
    --max-memory 16
row spec "a FIFO as spec" 1 "$skipc" fifo.lua -o out.c
row "command line" "skipc: the spec as output" 2 "$skipc" spec.c -o spec.c
row "command line" "skipc: the spec as the header" 2 "$skipc" spec.h -o spec.c
row "command line" "skipc: unknown option" 2 "$skipc" spec.c -o out.c --fast
row "command line" "skipc: bad limit" 2 "$skipc" spec.c -o out.c --max-layers 0
for ck in trunc trunc_header dtype_f16 dtype_unknown shape missing extra lying overlap \
          huge_header bad_json not_utf8 duplicate nan_norm; do
    row checkpoint "$ck.st" 1 "$mlp" eval --weights "$ck.st" --data d_good
done
row checkpoint "a FIFO" 1 "$mlp" eval --weights fifo.st --data d_good
for ck in trunc dtype_unknown shape missing nan_norm; do
    row "checkpoint (skipc --infer)" "$ck.st" 1 "$skipc" spec.c -o out.c --infer --weights "$ck.st"
done
row "command line" "skipc: --weights without --infer" 2 "$skipc" spec.c -o out.c --weights good.st
for d in d_magic d_dims d_trunc d_labels d_count d_bomb d_fifo; do
    row dataset "$d" 1 "$mlp" eval --weights good.st --data "$d"
done
for x in x_magic x_dims x_trunc x_big_endian x_f64 x_fortran; do
    row ".npy" "$x.npy (predict)" 1 "$mlp" predict --weights good.st --input "$x.npy" \
        --output out.npy
done
row ".npy" "a FIFO (predict)" 1 "$mlp" predict --weights good.st --input fifo.npy \
    --output out.npy
row ".npy" "labels out of range (grads)" 1 "$mlp" grads --weights good.st --input x_good.npy \
    --labels y_range.npy --output g.st
row ".npy" "count mismatch (grads)" 1 "$mlp" grads --weights good.st --input x_good.npy \
    --labels y_count.npy --output g.st
row "command line" "unknown flag" 2 "$mlp" train --fast
row "command line" "missing value" 2 "$mlp" train --epochs
row "command line" "zero" 2 "$mlp" train --epochs 0
row "command line" "negative" 2 "$mlp" train --lr -0.1
row "command line" "huge" 2 "$mlp" train --threads 1000
row "command line" "not a number" 2 "$mlp" train --batch many
row "command line" "output replaces an input" 2 "$mlp" predict --weights good.st \
    --input x_good.npy --output x_good.npy
} > "$tmp/table.md"

if [ "$mode" = "--check" ]; then
    if ! diff -u docs/bad-input.md "$tmp/table.md"; then
        echo "bad-input: docs/bad-input.md does not match what the commands do" \
             "(tools/bad-input.sh > docs/bad-input.md)" >&2
        exit 1
    fi
    [ "$damaged" -eq 0 ] || exit 1
    echo "bad-input: $(grep -c '^| [a-z.]' "$tmp/table.md") rows hold; 1 passed, 0 failed"
else
    cat "$tmp/table.md"
    [ "$damaged" -eq 0 ]
fi
