#!/usr/bin/env bash
# Coverage-guided fuzzing of every reader of he-tool with libFuzzer + AddressSanitizer
# (the fuzz targets live in Fuzz/, a SwiftPM package of its own; see Fuzz/README.md).
#
#   scripts/fuzz.sh            build the Fuzz package, run each target, fail on any finding
#   scripts/fuzz.sh build      build only
#   scripts/fuzz.sh seeds      build, then regenerate the seed corpora in Fuzz/Corpus/<target>/
#
# Environment:
#   FUZZ_SECONDS   seconds per target (default 180)
#   FUZZ_TARGETS   targets to run, space-separated (default: all, listed below)
#   FUZZ_PARALLEL  targets run at once (default 1; each target is one process)
#   FUZZ_FINDINGS  where logs, grown corpora and reproducers go (default Fuzz/findings)
#
# A target fails on a crash (trap, fatalError, ASan report), a leak (LeakSanitizer, with the
# suppressions in Fuzz/lsan.supp), a timeout (-timeout=10: one input running over 10 s) or an
# out-of-memory (-rss_limit_mb=2048). Its reproducer is saved as
# $FUZZ_FINDINGS/<target>/{crash,leak,timeout,oom}-<sha1>; replay it with
#   Fuzz/.build/release/<target> <reproducer>
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ="$ROOT/Fuzz"
ALL_TARGETS="secret-key eval-keys ciphertext tensor model profile frame onnx png idx npy serve"
FUZZ_SECONDS="${FUZZ_SECONDS:-180}"
FUZZ_TARGETS="${FUZZ_TARGETS:-$ALL_TARGETS}"
FUZZ_PARALLEL="${FUZZ_PARALLEL:-1}"
FUZZ_FINDINGS="${FUZZ_FINDINGS:-$FUZZ/findings}"
SWIFT="${SWIFT:-swift}"
# Swift's own crash backtracer (SWIFT_BACKTRACE) is turned off where the targets run: it reads
# the crashed thread's stack, which ASan reports as a stack-buffer-underflow of its own.
# Every Swift module (the root package's too) is built with libFuzzer's coverage and ASan;
# -parse-as-library because each target has its own @main that starts LLVMFuzzerRunDriver.
BUILD_FLAGS=(-c release -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)

for t in $FUZZ_TARGETS; do
    case " $ALL_TARGETS " in *" $t "*) ;; *) echo "fuzz.sh: unknown target '$t' (targets: $ALL_TARGETS)" >&2; exit 2 ;; esac
done

build() {
    echo "== building the fuzz targets ($FUZZ_TARGETS)"
    [ -f "$FUZZ/Package.resolved" ] || { [ -f "$ROOT/Package.resolved" ] && cp "$ROOT/Package.resolved" "$FUZZ/Package.resolved"; } || true
    for t in $FUZZ_TARGETS; do
        (cd "$FUZZ" && nice "$SWIFT" build "${BUILD_FLAGS[@]}" --product "$t")
    done
    BIN="$(cd "$FUZZ" && "$SWIFT" build "${BUILD_FLAGS[@]}" --show-bin-path)"
}

seeds() {
    for t in $FUZZ_TARGETS; do
        rm -rf "$FUZZ/Corpus/$t"
        HE_FUZZ_WRITE_SEEDS="$FUZZ/Corpus/$t" HE_FUZZ_ROOT="$ROOT" ASAN_OPTIONS=detect_leaks=0 SWIFT_BACKTRACE=enable=no "$BIN/$t"
    done
    du -sh "$FUZZ/Corpus"
}

# run_one TARGET: runs it, writes $FUZZ_FINDINGS/TARGET.summary (one line) and returns its status.
run_one() {
    local t="$1" out="$FUZZ_FINDINGS/$t" log="$FUZZ_FINDINGS/$t.log" status=0
    mkdir -p "$out" "$FUZZ_FINDINGS/corpus/$t"
    touch "$out/.started"  # reproducers of earlier runs stay, but only this run's count
    # New inputs go to the first folder (findings/corpus/<t>); the checked-in seeds are read only.
    ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:handle_abort=1:symbolize=1" \
    LSAN_OPTIONS="suppressions=$FUZZ/lsan.supp:print_suppressions=0" \
    HE_FUZZ_ROOT="$ROOT" SWIFT_BACKTRACE=enable=no \
        "$BIN/$t" "$FUZZ_FINDINGS/corpus/$t" "$FUZZ/Corpus/$t" \
        -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -detect_leaks=1 \
        -print_final_stats=1 -artifact_prefix="$out/" >"$log" 2>&1 || status=$?
    local execs rate artifacts
    execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
    rate="$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
    artifacts="$(find "$out" -maxdepth 1 -type f -newer "$out/.started" \
        \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)"
    local verdict="ok"
    if [ "$status" -ne 0 ] || [ "$artifacts" -ne 0 ]; then verdict="FAILED (exit $status, $artifacts reproducer(s) in $out; log $log)"; fi
    printf '%-11s %10s executions in %ss (%s/s), corpus %s files: %s\n' "$t" "${execs:-?}" "$FUZZ_SECONDS" "${rate:-?}" \
        "$(ls "$FUZZ_FINDINGS/corpus/$t" | wc -l)" "$verdict" | tee "$FUZZ_FINDINGS/$t.summary"
    [ "$verdict" = "ok" ]
}

run_all() {
    mkdir -p "$FUZZ_FINDINGS"
    echo "== fuzzing each target for ${FUZZ_SECONDS}s ($FUZZ_PARALLEL at a time); findings in $FUZZ_FINDINGS"
    local failed=0 running=0 pids=()
    for t in $FUZZ_TARGETS; do
        run_one "$t" & pids+=($!)
        running=$((running + 1))
        if [ "$running" -ge "$FUZZ_PARALLEL" ]; then
            wait "${pids[0]}" || failed=1
            pids=("${pids[@]:1}"); running=$((running - 1))
        fi
    done
    for p in "${pids[@]}"; do wait "$p" || failed=1; done
    echo "== summary"
    for t in $FUZZ_TARGETS; do cat "$FUZZ_FINDINGS/$t.summary"; done
    if [ "$failed" -ne 0 ]; then echo "fuzz: FAILED (reproducers above)"; exit 1; fi
    echo "fuzz: no crash, leak, timeout or out-of-memory"
}

case "${1:-run}" in
    build) build ;;
    seeds) build; seeds ;;
    run) build; run_all ;;
    *) echo "usage: scripts/fuzz.sh [run|build|seeds]" >&2; exit 2 ;;
esac
