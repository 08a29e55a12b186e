#!/usr/bin/env bash
# make schemathesis: schema fuzzing of `he-tool serve` against docs/openapi.yaml with
# Schemathesis (from PyPI, installed once into a venv under /tmp, never at test time), on a
# loopback server with the small fixture of scripts/serve-fixture.sh (its keys uploaded, so
# that evaluations get past the key lookup). Bounded: ST_EXAMPLES test cases per operation
# (default 100) and ST_MAX_TIME seconds in all (default 600). Fails on any 5xx, any answer
# that violates the schema (status, content type, headers, body), and a server that stops.
#
# Checks: all of Schemathesis's except positive_data_acceptance — a body that fits the schema
# (`application/octet-stream`, any bytes) is not an he-tool file, and the server rightly
# refuses it with a 4xx — and the stateful ones that need links the spec has none of.
#
# Environment: ST_EXAMPLES, ST_MAX_TIME, ST_PORT (18180), ST_VENV (/tmp/venv-schemathesis),
# ST_VERSION (4.32.5), HE_TOOL, FIXTURE_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
HE_TOOL=${HE_TOOL:-.build/release/he-tool}
ST_EXAMPLES=${ST_EXAMPLES:-100}
ST_MAX_TIME=${ST_MAX_TIME:-600}
ST_PORT=${ST_PORT:-18180}
ST_VENV=${ST_VENV:-/tmp/venv-schemathesis}
ST_VERSION=${ST_VERSION:-4.32.5}
WORK=${ST_WORK:-/tmp/he-tool-schemathesis}

if [ ! -x "$ST_VENV/bin/st" ]; then
    echo "schemathesis: installing schemathesis==$ST_VERSION into $ST_VENV" >&2
    python3 -m venv "$ST_VENV"
    "$ST_VENV/bin/pip" install -q "schemathesis==$ST_VERSION"
fi
FIXTURE=$(HE_TOOL=$HE_TOOL scripts/serve-fixture.sh 1)
rm -rf "$WORK"; mkdir -p "$WORK"
KEY_MB=$(( $(stat -c %s "$FIXTURE/client-1/me.heevk") / 1048576 ))
source scripts/serve-start.sh
start_server "$ST_PORT" "$WORK" --key-spill-dir "$WORK/spill" --max-body-mb $(( KEY_MB + 16 )) --request-timeout 10 \
    --threads 1 --log-level warning
ID=$(sha256sum "$FIXTURE/client-1/me.heevk" | cut -d' ' -f1)
curl -fsS -X PUT --data-binary "@$FIXTURE/client-1/me.heevk" -H 'Content-Type: application/octet-stream' \
    "http://127.0.0.1:$ST_PORT/v1/keys/$ID" > /dev/null
status=0
"$ST_VENV/bin/st" run docs/openapi.yaml --url "http://127.0.0.1:$ST_PORT" \
    --checks all --exclude-checks positive_data_acceptance,use_after_free,ensure_resource_availability \
    --max-examples "$ST_EXAMPLES" --max-time "$ST_MAX_TIME" --request-timeout 60 --workers 2 --seed 15 \
    --generation-database none --no-color --report junit --report-dir "$WORK/report" || status=$?
if ! kill -0 $SERVER 2>/dev/null; then
    echo "schemathesis: the server stopped" >&2; tail -20 "$WORK/server.err" >&2; status=1
elif ! curl -fsS "http://127.0.0.1:$ST_PORT/healthz" > /dev/null; then
    echo "schemathesis: the server no longer answers /healthz" >&2; status=1
fi
echo "schemathesis: server log in $WORK/server.err, JUnit report in $WORK/report" >&2
exit $status
