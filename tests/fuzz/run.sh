#!/usr/bin/env bash
# Builds eryx's fuzz targets (libFuzzer, through the libfuzzer-sys crate) on the stable
# toolchain and runs each in turn, one job at a time.
#
#   tests/fuzz/run.sh --brief             CI: every target, a fixed seed and a fixed number of runs
#   tests/fuzz/run.sh --seconds 600 wheel  one target for 10 minutes, a random seed
#   tests/fuzz/run.sh --build              build only
#
# cargo-fuzz needs a nightly compiler for its sanitizer flags; the coverage instrumentation
# that libFuzzer needs is reachable on stable through `-Cpasses=sancov-module` and LLVM
# options, which is all this script sets (no AddressSanitizer: the code under test is safe
# Rust). `RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET` works on the same crate as well.
#
# --brief is deterministic: the same commit explores the same inputs, so CI passes or fails
# the same way every time (a random search would let a run fail on a bug no change made).
# Its budget is a number of runs only, never wall time: a cap in seconds cut the slower targets
# short on a loaded machine, so how much was explored depended on the load.
# Long runs search at random: what they find is fixed, and its input becomes a regression test.
# New inputs libFuzzer finds go to target/corpus/TARGET (not committed; --brief starts from an
# empty one); the committed seeds in corpus/TARGET are only read. A failing input is saved under artifacts/TARGET/ and the
# script exits non-zero; replay it with `target/<host>/release/TARGET artifacts/TARGET/crash-…`.
set -euo pipefail
cd "$(dirname "$0")"

seconds=
brief=false
build_only=false
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --brief) brief=true ;;
    --seconds) seconds="$2"; shift ;;
    --build) build_only=true ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
[ ${#targets[@]} -gt 0 ] || targets=(wheel site table native_extension)
$brief || [ -n "$seconds" ] || seconds=20
# Runs per target in --brief mode: 5-14 s of CPU each (measured under load; less when idle),
# about 40 s for the four.
declare -A brief_runs=([wheel]=200000 [site]=40000 [table]=1000000 [native_extension]=1000000)

# The site target writes a small tree for every input: in memory that runs about five times
# faster than on disk.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi

host=$(rustc -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR="$PWD/target"
# What cargo-fuzz passes, minus the sanitizer; `--target` keeps build scripts uninstrumented.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth \
--cfg fuzzing -Cdebug-assertions -Coverflow-checks"
cargo build --release --locked --target "$host" --bins
$build_only && exit 0

failed=()
for target in "${targets[@]}"; do
  mkdir -p "artifacts/$target"
  if $brief; then
    echo "=== fuzz target $target: ${brief_runs[$target]} runs, seed 1"
    corpus="target/brief-corpus/$target"
    rm -rf "$corpus"
    budget=(-seed=1 -runs="${brief_runs[$target]}")
  else
    echo "=== fuzz target $target: ${seconds}s"
    corpus="target/corpus/$target"
    budget=(-max_total_time="$seconds")
  fi
  mkdir -p "$corpus"
  dict=()
  [ -f "$target.dict" ] && dict=(-dict="$target.dict")
  # A few KiB of input must never make the parsers take hundreds of MiB (-rss_limit_mb, and
  # src/lib.rs caps single allocations at 256 MiB) nor seconds (-timeout).
  "target/$host/release/$target" "${budget[@]}" \
    -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 "${dict[@]}" \
    -artifact_prefix="artifacts/$target/" "$corpus" "corpus/$target" || failed+=("$target")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz targets that failed: ${failed[*]} (inputs in tests/fuzz/artifacts/)" >&2
  exit 1
fi
