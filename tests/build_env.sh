# shellcheck shell=sh disable=SC2034  # sourced: the variables are used by the caller
# Sourced by the test scripts: the build folder and sanitizer flags that
# make test uses (make test SANITIZE=1 sets them), and the compiler to build
# and link what a script builds itself.
B=${SKIPC_BUILD:-build}
SAN=${SKIPC_SAN:-}
if [ -n "$SAN" ]; then CCT=clang; else CCT=gcc; fi
