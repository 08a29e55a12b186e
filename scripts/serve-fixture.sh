#!/usr/bin/env bash
# A small fixture for exercising `he-tool serve` (scripts/schemathesis.sh, scripts/soak.sh):
# the bundled MNIST example compiled once (one tiling: --no-conversions), then per client a
# secret key, its evaluation keys, and each bundled test image encrypted, with the class the
# plaintext model predicts for it. Everything is made with the he-tool binary and kept in
# $FIXTURE_DIR, so a second run only fills in what is missing.
#
#   scripts/serve-fixture.sh [CLIENTS]     # CLIENTS: how many key sets (default 1)
#
# Environment: HE_TOOL (default .build/release/he-tool), FIXTURE_DIR (default
# /tmp/he-tool-serve-fixture-cp), EXAMPLE (default Examples/mnist).
# Writes: $FIXTURE_DIR/model/{model.hemodel,client.heprofile}, $FIXTURE_DIR/expected.tsv
# (image, predicted class), $FIXTURE_DIR/client-N/{me.hesk,me.heevk,<image>.hect}.
set -euo pipefail
cd "$(dirname "$0")/.."
HE_TOOL=${HE_TOOL:-.build/release/he-tool}
FIXTURE_DIR=${FIXTURE_DIR:-/tmp/he-tool-serve-fixture-cp}   # -cp: compiled with --circuit-privacy, which serve asks for
EXAMPLE=${EXAMPLE:-Examples/mnist}
CLIENTS=${1:-1}
[ -x "$HE_TOOL" ] || { echo "serve-fixture: no $HE_TOOL; build it first: swift build -c release --product he-tool" >&2; exit 1; }
mkdir -p "$FIXTURE_DIR"
images=("$EXAMPLE"/*.png)

if [ ! -f "$FIXTURE_DIR/model/model.hemodel" ] || [ ! -f "$FIXTURE_DIR/model/client.heprofile" ]; then
    echo "serve-fixture: compiling $EXAMPLE (first run: calibrates this machine, cached)" >&2
    rm -rf "$FIXTURE_DIR/model.tmp"
    "$HE_TOOL" compile "$EXAMPLE/model.onnx" --out "$FIXTURE_DIR/model.tmp" --no-conversions --circuit-privacy --calibration "${images[@]}" >&2
    rm -rf "$FIXTURE_DIR/model" && mv "$FIXTURE_DIR/model.tmp" "$FIXTURE_DIR/model"
fi

if [ ! -s "$FIXTURE_DIR/expected.tsv" ]; then
    "$HE_TOOL" predict "$EXAMPLE/model.onnx" --json "${images[@]}" > "$FIXTURE_DIR/predict.json"
    python3 - "$FIXTURE_DIR/predict.json" > "$FIXTURE_DIR/expected.tsv.tmp" <<'PY'
import json, os, sys
for o in json.load(open(sys.argv[1]))["outputs"]:
    logits = o["logits"][0] if isinstance(o["logits"][0], list) else o["logits"]
    print(os.path.basename(o["input"]), max(range(len(logits)), key=lambda i: logits[i]), sep="\t")
PY
    mv "$FIXTURE_DIR/expected.tsv.tmp" "$FIXTURE_DIR/expected.tsv"
fi

for n in $(seq 1 "$CLIENTS"); do
    c="$FIXTURE_DIR/client-$n"
    mkdir -p "$c"
    if [ ! -f "$c/me.heevk" ]; then
        rm -f "$c/me.hesk" "$c"/*.hect
        "$HE_TOOL" keygen --profile "$FIXTURE_DIR/model/client.heprofile" --secret-key "$c/me.hesk" --eval-keys "$c/me.heevk" >&2
    fi
    for image in "${images[@]}"; do
        out="$c/$(basename "$image" .png).hect"
        [ -f "$out" ] || "$HE_TOOL" encrypt "$image" --profile "$FIXTURE_DIR/model/client.heprofile" --secret-key "$c/me.hesk" --out "$out" >&2
    done
done
echo "$FIXTURE_DIR"
