#!/usr/bin/env bash
# Regenerates the committed Swift code of the protobuf schemas:
#   Sources/CKKS/Generated/he_tool.pb.swift   from Protos/he_tool.proto   (he-tool's file format)
#   Sources/Compiler/Generated/he_plan.pb.swift from Protos/he_plan.proto (compiled models, profiles, encrypted tensors)
#   Sources/Model/Generated/onnx.pb.swift     from Protos/onnx/onnx.proto (the ONNX format, as
#     published by the ONNX project; copied unchanged from the `onnx` 1.23.2 Python wheel)
#
# The generated file is committed: building he-tool needs neither protoc nor the plugin. Run
# this only after changing the schema (and bump format_version for any change to what a file
# may contain; see the header of the .proto).
#
# Needs:
#   * protoc (Debian: apt-get install -y protobuf-compiler; 3.21 was used).
#   * protoc-gen-swift of the same swift-protobuf version as Package.swift's dependency
#     (1.39.0). It is not built by the package; build it once outside the repository:
#         git clone https://github.com/apple/swift-protobuf /tmp/protoc-gen-swift
#         cd /tmp/protoc-gen-swift && git checkout 1.39.0
#         swift build -c release --product protoc-gen-swift
#     (several minutes), then either put .build/release on PATH or point PROTOC_GEN_SWIFT at
#     the binary:
#         PROTOC_GEN_SWIFT=/tmp/protoc-gen-swift/.build/release/protoc-gen-swift \
#             scripts/generate-protos.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if ! command -v protoc >/dev/null 2>&1; then
  echo "generate-protos: protoc not found; install it (Debian: apt-get install -y protobuf-compiler)" >&2
  exit 1
fi

plugin="${PROTOC_GEN_SWIFT:-}"
if [ -z "$plugin" ]; then
  plugin="$(command -v protoc-gen-swift || true)"
fi
if [ -z "$plugin" ] || [ ! -x "$plugin" ]; then
  echo "generate-protos: protoc-gen-swift not found; set PROTOC_GEN_SWIFT or put it on PATH (how to build it: the comment at the top of this script)" >&2
  exit 1
fi

generate() { # generate PROTO_DIR PROTO_FILE OUT_DIR
  local dir="$1" file="$2" out="$3"
  mkdir -p "$out"
  protoc \
    --plugin=protoc-gen-swift="$plugin" \
    --proto_path="$dir" \
    --swift_out="$out" \
    --swift_opt=Visibility=Internal \
    "$dir/$file"
  echo "generate-protos: wrote ${out#"$root"/}/${file%.proto}.pb.swift ($(protoc --version), $("$plugin" --version 2>/dev/null || echo 'protoc-gen-swift'))"
}

generate "$root/Protos" he_tool.proto "$root/Sources/CKKS/Generated"
generate "$root/Protos/onnx" onnx.proto "$root/Sources/Model/Generated"
generate "$root/Protos" he_plan.proto "$root/Sources/Compiler/Generated"
