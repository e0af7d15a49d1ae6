#!/usr/bin/env bash
# Regenerates Sources/EstuaryWire/Generated/estuary.pb.swift from Protocol/estuary.proto.
# Needs protoc (Debian: protobuf-compiler) and protoc-gen-swift from swift-protobuf at the
# version Package.swift names; builds the plugin once into .build-protoc if it is not on PATH.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
command -v protoc >/dev/null || { echo "protoc is missing: apt-get install protobuf-compiler" >&2; exit 1; }
plugin=$(command -v protoc-gen-swift || true)
if [ -z "$plugin" ]; then
  version=$(grep -o 'swift-protobuf.git", from: "[0-9.]*"' "$top/Package.swift" | grep -o '[0-9][0-9.]*')
  src="$top/.build-protoc/swift-protobuf"
  if [ ! -d "$src" ]; then
    mkdir -p "$top/.build-protoc"
    git clone --quiet https://github.com/apple/swift-protobuf.git "$src"
  fi
  git -C "$src" checkout --quiet "$version"
  swift build --package-path "$src" -c release --product protoc-gen-swift >&2
  plugin="$src/.build/release/protoc-gen-swift"
fi
out="$top/Sources/EstuaryWire/Generated"
mkdir -p "$out"
protoc --plugin=protoc-gen-swift="$plugin" --proto_path="$here" \
  --swift_out="$out" --swift_opt=Visibility=Public --swift_opt=FileNaming=FullPath estuary.proto
echo "wrote $out/estuary.pb.swift"
