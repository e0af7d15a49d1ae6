#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ and runs each for a bounded time (issue #3).
#
#   scripts/fuzz.sh [--time SECONDS] [--no-build] [--fresh] [--toml-asserts] [target...]
#
#   --time SECONDS  run each target this long (default 60)
#   --no-build      use the binaries already in Fuzz/.build/release
#   --fresh         start from the committed seeds only, dropping inputs found by earlier runs
#   --toml-asserts  keep toml++'s assertions on, as in our real builds (see Fuzz/README.md,
#                   "Known issues"); by default the fuzz build compiles them out
#   target          FuzzFrameDecoder, FuzzEnvelopeDecoder, FuzzJobFile (default: all three)
#
# Each target runs on its working corpus Fuzz/.work/<target>/corpus (git-ignored; new inputs
# go there) with the committed seeds Fuzz/Corpus/<target> as a read-only second corpus, so the
# seeds are never modified. Crash, timeout and out-of-memory inputs are written to
# Fuzz/.work/<target>/artifacts/ and the full libFuzzer log to Fuzz/.work/<target>/fuzz.log.
# Extra libFuzzer flags can be passed in FUZZ_ARGS (e.g. FUZZ_ARGS="-max_len=65536").
#
# Exits non-zero if any target crashes, hangs past -timeout, exceeds -rss_limit_mb, or fails to
# start; the offending input's path and the command that reproduces it are printed.
#
# Prerequisites (installed by nothing here): a swift.org toolchain for Linux (it ships
# libFuzzer and the sanitizer runtimes; Xcode's does not), and libzstd-dev (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

all_targets=(FuzzFrameDecoder FuzzEnvelopeDecoder FuzzJobFile)
seconds=60
build=1
fresh=0
toml_asserts=0
targets=()
while (($#)); do
  case "$1" in
    --time) seconds=${2:?--time needs a number of seconds}; shift 2 ;;
    --time=*) seconds=${1#--time=}; shift ;;
    --no-build) build=0; shift ;;
    --fresh) fresh=1; shift ;;
    --toml-asserts) toml_asserts=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *)
      if [[ " ${all_targets[*]} " != *" $1 "* ]]; then
        echo "fuzz.sh: unknown target $1; targets: ${all_targets[*]}" >&2; exit 2
      fi
      targets+=("$1"); shift ;;
  esac
done
[[ "$seconds" =~ ^[0-9]+$ ]] && ((seconds > 0)) || { echo "fuzz.sh: --time must be a positive integer" >&2; exit 2; }
((${#targets[@]})) || targets=("${all_targets[@]}")

bin="$root/Fuzz/.build/release"
if ((build)); then
  command -v swift >/dev/null || { echo "fuzz.sh: swift is not on PATH (install a swift.org toolchain)" >&2; exit 2; }
  pkg-config --exists libzstd 2>/dev/null || echo "fuzz.sh: warning: pkg-config finds no libzstd; run scripts/install-deps.sh" >&2
  # Same dependency versions as the main package, without resolving anything anew.
  [ -f Fuzz/Package.resolved ] || { [ -f Package.resolved ] && cp Package.resolved Fuzz/Package.resolved; }
  echo "== building fuzz targets (release, -sanitize=fuzzer,address)"
  mkdir -p Fuzz/.work
  start=$SECONDS
  # -sanitize applies to every Swift module of the graph; -Xcc/-Xcxx instrument the C and C++
  # dependencies too (toml++ under TOMLKit, NIO's shims), so libFuzzer sees their coverage
  # and ASan checks their memory accesses.
  cxx=(-Xcxx -fsanitize=fuzzer-no-link,address)
  if ((toml_asserts == 0)); then
    # toml++ 3.4.0 aborts on several malformed inputs through assertions of its own
    # preconditions (known issue, reported). Compile them out, including the __builtin_assume
    # that NDEBUG turns them into, so the fuzzer keeps going through toml++ and our readers
    # while ASan still catches any memory error behind a violated precondition.
    cxx+=(-Xcxx -DNDEBUG -Xcxx '-D__builtin_assume(x)=((void)0)')
  fi
  set +e
  swift build -c release --package-path Fuzz --scratch-path Fuzz/.build \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library \
    -Xcc -fsanitize=fuzzer-no-link,address "${cxx[@]}" 2>&1 |
    tee Fuzz/.work/build.log | grep --line-buffered -Ev '^\[[0-9]+/[0-9]+\] (Compiling|Write|Emitting)|__asan_extra_spill_area'
  status=${PIPESTATUS[0]}
  set -e
  ((status == 0)) || { echo "fuzz.sh: build failed (full log: Fuzz/.work/build.log)" >&2; exit "$status"; }
  echo "built in $((SECONDS - start)) s"
fi

failed=()
summaries=()
for target in "${targets[@]}"; do
  exe="$bin/$target"
  [ -x "$exe" ] || { echo "fuzz.sh: $exe is missing; run without --no-build" >&2; exit 2; }
  work="$root/Fuzz/.work/$target"
  ((fresh)) && rm -rf "$work/corpus"
  mkdir -p "$work/corpus" "$work/artifacts"
  log="$work/fuzz.log"
  flags=(
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="$work/artifacts/"
  )
  # The wire decoders get a tight per-allocation limit: inputs are at most 4 KiB (libFuzzer's
  # default -max_len for these seeds) and frames at most 4 MiB, so no single allocation may
  # exceed 16 MiB whatever length a peer claims.
  case "$target" in
    FuzzFrameDecoder) dict=Fuzz/Dictionaries/frame.dict; flags+=(-malloc_limit_mb=16) ;;
    FuzzEnvelopeDecoder) dict=Fuzz/Dictionaries/envelope.dict; flags+=(-malloc_limit_mb=16) ;;
    FuzzJobFile) dict=Fuzz/Dictionaries/toml.dict ;;
  esac
  [ -f "$dict" ] && flags+=(-dict="$root/$dict")
  # shellcheck disable=SC2206
  flags+=(${FUZZ_ARGS:-})

  echo "== $target: ${seconds} s (log: ${log#"$root"/})"
  set +e
  # No leak checking: the Swift runtime's metadata caches are reachable but LeakSanitizer's
  # reports at exit are noise for these targets. The Swift runtime's own crash backtracer is
  # switched off: it races ASan and libFuzzer for the signal and garbles their reports.
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}" SWIFT_BACKTRACE=enable=no \
    "$exe" "${flags[@]}" "$work/corpus" "$root/Fuzz/Corpus/$target" >"$log" 2>&1
  status=$?
  set -e

  stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
  execs=$(stat number_of_executed_units)
  rate=$(stat average_exec_per_sec)
  added=$(stat new_units_added)
  rss=$(stat peak_rss_mb)
  cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 || true)
  units=$(find "$work/corpus" -type f | wc -l)
  if ((status == 0)) && [ -n "$execs" ]; then
    verdict=ok
  else
    verdict="FAILED (exit $status)"
    failed+=("$target")
  fi
  summary="$target: ${execs:-?} execs, ${rate:-?} exec/s, ${seconds} s, ${cov:-cov: ?}, corpus $units (+${added:-?} new), peak RSS ${rss:-?} MB: $verdict"
  summaries+=("$summary")
  echo "$summary"
  if [ "$verdict" != ok ]; then
    echo "---- last lines of $log"
    tail -n 60 "$log"
    echo "----"
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    if [ -n "$artifact" ]; then
      echo "crash input: $artifact"
      echo "reproduce:   SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 $exe $artifact"
      echo "minimize:    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 $exe -minimize_crash=1 -runs=20000 -artifact_prefix=$work/artifacts/min- $artifact"
    fi
  fi
done

echo "== fuzz summary"
printf '%s\n' "${summaries[@]}"
if ((${#failed[@]})); then
  echo "fuzz.sh: failed: ${failed[*]}" >&2
  exit 1
fi
