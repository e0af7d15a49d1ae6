#!/bin/sh
# Builds Estuary executables the way the images ship them — release, Swift runtime linked
# statically — copies them to OUTDIR and proves with ldd that no Swift library is loaded at
# run time (only the system libraries the runtime image installs). The Dockerfiles' build
# stage and scripts/container-smoke.sh both call this, so CI tests the flags the images use.
#
#   Docker/build-static.sh OUTDIR PRODUCT...
#   ESTUARY_SCRATCH_PATH=DIR   SwiftPM scratch directory (default .build-static), kept apart
#                              from the debug build in .build
#   ESTUARY_KEEP_SYMBOLS=true  copy unstripped binaries (about twice the size; crash backtraces
#                              then name functions instead of showing bare addresses)
set -eu
[ $# -ge 2 ] || { echo "usage: Docker/build-static.sh OUTDIR PRODUCT..." >&2; exit 2; }
out=$1
shift
scratch=${ESTUARY_SCRATCH_PATH:-.build-static}
flags="-c release --static-swift-stdlib --scratch-path $scratch"
mkdir -p "$out"
for product in "$@"; do
  echo "build-static: swift build $flags --product $product" >&2
  # shellcheck disable=SC2086 # $flags is a list of words without spaces or globs
  swift build $flags --product "$product"
done
# shellcheck disable=SC2086
bin=$(swift build $flags --show-bin-path)
for product in "$@"; do
  install -m 0755 "$bin/$product" "$out/$product"
  [ "${ESTUARY_KEEP_SYMBOLS:-false}" = true ] || strip "$out/$product"
  libraries=$(ldd "$out/$product")
  if printf '%s\n' "$libraries" | grep -E 'libswift|libFoundation|libdispatch|libBlocksRuntime|_FoundationICU|not found'; then
    echo "build-static: $product loads the Swift runtime (or a missing library) dynamically; see above" >&2
    exit 1
  fi
  echo "build-static: $out/$product ($(du -h "$out/$product" | cut -f1)) needs: $(printf '%s\n' "$libraries" | awk '{print $1}' | tr '\n' ' ')" >&2
done
