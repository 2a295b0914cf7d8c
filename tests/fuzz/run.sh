#!/bin/sh
# SPDX-License-Identifier: MIT
# Fuzzes the pure modules with libFuzzer: builds every tests/fuzz/fuzz_*.c
# with clang against the src/*.c module it tests (no collectd), with
# AddressSanitizer (LeakSanitizer included) and UndefinedBehaviorSanitizer,
# and runs the targets side by side, each for SECONDS (default 60) on a copy
# of its seed corpus tests/fuzz/corpus/<target>/.
#
#   tests/fuzz/run.sh [SECONDS]
#
# Exits non-zero when a target does not build, crashes, leaks, hits
# undefined behaviour or breaks one of its own checks; the reproducer and
# the log stay in the temporary directory it names (FUZZ_KEEP=1 keeps that
# directory after a clean run as well). Needs clang and its runtimes
# (Debian: clang, libclang-rt-14-dev); tests/install-deps.sh installs them.
set -eu

seconds=${1:-60}
case $seconds in
'' | *[!0-9]*)
  echo "usage: $0 [SECONDS]" >&2
  exit 2
  ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../src" && pwd)
cc=${CLANG:-clang}
work=$(mktemp -d "${TMPDIR:-/tmp}/ddoscoo-fuzz.XXXXXX")

# Each target fuzz_T.c tests src/T.c; what it links and how it runs:
targets="api_response rpc_sign credentials_file"
packages() {
  case $1 in
  api_response) echo libxml-2.0 libcrypto ;;
  rpc_sign) echo libcrypto ;;
  credentials_file) echo libcrypto libcurl ;;
  esac
}
# Modules a target tests besides src/T.c.
more_sources() {
  case $1 in
  api_response) echo "$src/statistics.c $src/sources.c $src/rpc_sign.c" ;;
  credentials_file) echo "$src/ecs_metadata.c" ;;
  esac
}
options() {
  case $1 in
  # Up to the 64 KiB the HTTP client accepts.
  api_response) echo "-max_len=65536 -dict=$here/api_response.dict" ;;
  esac
}

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

for target in $targets; do
  # shellcheck disable=SC2046 # pkg-config's output is a list of words
  if ! "$cc" -g -O1 -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -std=c99 -D_DEFAULT_SOURCE -Wall -Wextra \
    -I"$src" $(pkg-config --cflags "$(packages "$target")") \
    "$here/fuzz_$target.c" "$src/$target.c" $(more_sources "$target") \
    $(pkg-config --libs "$(packages "$target")") -o "$work/fuzz_$target" \
    >"$work/build-$target.log" 2>&1; then
    cat "$work/build-$target.log" >&2
    echo "fuzz: fuzz_$target does not build (clang and libclang-rt-14-dev" \
      "installed?); see $work" >&2
    exit 1
  fi
done

echo "fuzz: each target runs for $seconds s in $work"
pids=""
for target in $targets; do
  mkdir -p "$work/corpus-$target" "$work/crashes-$target"
  cp -R "$here/corpus/$target/." "$work/corpus-$target/"
  # shellcheck disable=SC2046 # options is a list of words
  (cd "$work" && exec "./fuzz_$target" -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 $(options "$target") \
    -artifact_prefix="$work/crashes-$target/" "$work/corpus-$target" \
    >"$work/fuzz-$target.log" 2>&1) &
  pids="$pids $target:$!"
done

failed=0
for entry in $pids; do
  target=${entry%%:*}
  log="$work/fuzz-$target.log"
  if wait "${entry#*:}"; then status=0; else status=$?; fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  corpus=$(find "$work/corpus-$target" -type f | wc -l)
  if [ "$status" = 0 ] && [ -z "$(ls -A "$work/crashes-$target")" ]; then
    echo "fuzz: fuzz_$target: ${runs:-?} executions in $seconds s, corpus of $corpus inputs, no failure"
  else
    failed=1
    grep -E 'ERROR|runtime error|fuzz_[a-z_]+: |SUMMARY|Test unit written|#[0-9]+ in ' "$log" |
      head -n 30 >&2 || true
    echo "fuzz: fuzz_$target FAILED (exit $status): log $log, reproducer(s) in $work/crashes-$target/" >&2
  fi
done

if [ "$failed" = 0 ] && [ "${FUZZ_KEEP:-}" != 1 ]; then
  rm -rf "$work"
fi
exit "$failed"
