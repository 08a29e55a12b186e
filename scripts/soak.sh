#!/usr/bin/env bash
# make soak: `he-tool serve` on loopback under mixed good and bad traffic (scripts/soak.py) for
# SOAK_MINUTES (default 30), with three clients whose keys do not all fit in the key cache
# (evictions, reloads from the spill directory). Fails when a good request is answered wrong,
# an answer is unexpected (any 5xx), the server dies, or its RSS or open descriptors grow past
# the tolerance (RSS_end <= 1.25 x RSS_start + 128 MB, fds_end <= fds_start + 8).
#
# Environment: SOAK_MINUTES (30), SOAK_PORT (18181), SOAK_CLIENTS (3), SOAK_REPORT
# (/tmp/he-tool-soak/report.json), HE_TOOL, FIXTURE_DIR (see scripts/serve-fixture.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
HE_TOOL=${HE_TOOL:-.build/release/he-tool}
SOAK_MINUTES=${SOAK_MINUTES:-30}
SOAK_PORT=${SOAK_PORT:-18181}
SOAK_CLIENTS=${SOAK_CLIENTS:-3}
WORK=${SOAK_WORK:-/tmp/he-tool-soak}
SOAK_REPORT=${SOAK_REPORT:-$WORK/report.json}
FIXTURE=$(HE_TOOL=$HE_TOOL scripts/serve-fixture.sh "$SOAK_CLIENTS")
rm -rf "$WORK/spill"; mkdir -p "$WORK"
# Key cache: room for one parsed key set (about twice its seeded file), not two, so that the
# three clients evict each other and keys are read back from the spill directory.
KEY_MB=$(( $(stat -c %s "$FIXTURE/client-1/me.heevk") / 1048576 ))
CACHE_MB=$(( KEY_MB * 3 ))
BODY_MB=$(( KEY_MB + 16 ))
source scripts/serve-start.sh
start_server "$SOAK_PORT" "$WORK" --key-spill-dir "$WORK/spill" --key-cache-mb "$CACHE_MB" --max-body-mb "$BODY_MB" \
    --request-timeout 10 --max-concurrent 2 --max-uploads-per-client 8 --threads 1 --log-level warning
echo "soak: server pid $SERVER on 127.0.0.1:$SOAK_PORT, key cache $CACHE_MB MiB (key file $KEY_MB MiB), $SOAK_MINUTES min" >&2
status=0
python3 scripts/soak.py --port "$SOAK_PORT" --pid "$SERVER" --fixture "$FIXTURE" --clients "$SOAK_CLIENTS" --he-tool "$HE_TOOL" \
    --minutes "$SOAK_MINUTES" --request-timeout 10 --max-body-mb "$BODY_MB" --report "$SOAK_REPORT" || status=$?
if ! kill -0 $SERVER 2>/dev/null; then echo "soak: the server is gone" >&2; tail -20 "$WORK/server.err" >&2; status=1; fi
echo "soak: report in $SOAK_REPORT; server log in $WORK/server.err" >&2
exit $status
