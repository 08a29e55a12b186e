# Sourced by scripts/soak.sh and scripts/schemathesis.sh: starts `he-tool serve` on loopback
# with the fixture's model and waits until /healthz answers.
#
#   start_server PORT WORK [SERVE OPTIONS…]
#
# Needs HE_TOOL and FIXTURE. Sets SERVER (the pid), kills it on exit, and logs to
# WORK/server.out and WORK/server.err; exits 1 with the server's log when it does not come up.
start_server() {
    local port="$1" work="$2"
    shift 2
    "$HE_TOOL" serve --model "mnist=$FIXTURE/model/model.hemodel" --host 127.0.0.1 --port "$port" "$@" \
        > "$work/server.out" 2> "$work/server.err" &
    SERVER=$!
    trap 'kill $SERVER 2>/dev/null || true' EXIT
    for _ in $(seq 1 120); do
        curl -fsS "http://127.0.0.1:$port/healthz" > /dev/null 2>&1 && return 0
        kill -0 "$SERVER" 2>/dev/null || { cat "$work/server.err" >&2; exit 1; }
        sleep 0.5
    done
    echo "serve-start: no answer on 127.0.0.1:$port/healthz after 60 s" >&2
    exit 1
}
