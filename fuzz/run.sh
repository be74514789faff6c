#!/usr/bin/env bash
# Builds the fuzz targets with cargo-afl and runs each under AFL++ for a bounded number of
# executions, then prints a table per target. See docs/FUZZING.md.
#
#   fuzz/run.sh [EXECS] [TARGET...]      EXECS default 1000000; targets default all nine:
#                                        finger_record population proto_record manifest wsq finger_image
#                                        mosip_request stomp_frames cbeff
#
# Environment:
#   CARGO_TARGET_DIR   build folder (default fuzz/target)
#   FUZZ_WORK          seeds, AFL++ output and temp files (default fuzz/work, git-ignored)
#   FUZZ_FVC_DIRS      FVC folders whose *.iso records join the finger seeds (default: the
#                      four fvc2002 folders under ../shared/data when present)
#   FUZZ_MAX_SECONDS   wall-clock cap per target (default 3600), on top of the execution bound
#   FUZZ_LOCK          lock file taken around every build and fuzz run (default
#                      /tmp/abis-build.lock), so runs never overlap other builds on the machine
#   FUZZ_NO_BUILD=1    skip the build (reuse the binaries)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
execs=${1:-1000000}
[[ $# -gt 0 ]] && shift
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(finger_record population proto_record manifest wsq finger_image mosip_request stomp_frames cbeff)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$here/target}
work=${FUZZ_WORK:-$here/work}
lock=${FUZZ_LOCK:-/tmp/abis-build.lock}
max_seconds=${FUZZ_MAX_SECONDS:-3600}
bin=$CARGO_TARGET_DIR/release

if ! [[ $execs =~ ^[0-9]+$ ]]; then
    echo "usage: $0 [EXECS] [TARGET...]" >&2
    exit 2
fi
if ! cargo afl --version >/dev/null 2>&1; then
    echo "cargo-afl is missing: cargo install cargo-afl --locked && cargo afl config --build" >&2
    exit 2
fi

if [[ -z ${FUZZ_NO_BUILD:-} ]]; then
    echo "== building (cargo afl build --release) into $CARGO_TARGET_DIR"
    flock "$lock" cargo afl build --release --manifest-path "$here/Cargo.toml" --bins
fi

# Seeds: regenerated every run (small; FVC copies stay in the ignored work folder).
if [[ -z ${FUZZ_FVC_DIRS+x} ]]; then
    FUZZ_FVC_DIRS=""
    for d in "$repo"/../shared/data/fvc2002/{DB1_B,DB2_B,DB3_B,DB4_B-synthetic}; do
        [[ -d $d ]] && FUZZ_FVC_DIRS+="$d "
    done
fi
rm -rf "$work/seeds"
mkdir -p "$work/seeds" "$work/out" "$work/tmp"
# shellcheck disable=SC2086
"$bin/seeds" "$work/seeds" $FUZZ_FVC_DIRS

export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
export AFL_SUPPRESS_OUTPUT=${AFL_SUPPRESS_OUTPUT:-1}

stat_of() { # stat_of FILE KEY
    awk -F' *: *' -v k="$2" '$1 == k { print $2 }' "$1"
}

declare -a rows
status=0
for t in "${targets[@]}"; do
    if [[ ! -x $bin/$t ]]; then
        echo "unknown target $t" >&2
        exit 2
    fi
    out="$work/out/$t"
    rm -rf "$out"
    mkdir -p "$work/tmp/$t"
    dict=()
    [[ -f $here/dict/$t.dict ]] && dict=(-x "$here/dict/$t.dict")
    echo "== $t: $execs executions (cap ${max_seconds}s)"
    # -E: stop after about EXECS executions; -V: wall-clock cap; -t: 1 s per input is a hang.
    # The wall time is taken inside the lock (not counting the wait for other builds).
    TMPDIR="$work/tmp/$t" flock "$lock" bash -c 'start=$(date +%s); "$@"; rc=$?
        echo $(($(date +%s) - start)) >"'"$work/out/$t.wall"'"; exit $rc' _ \
        timeout --signal=INT $((max_seconds + 120)) \
        cargo afl fuzz -i "$work/seeds/$t" -o "$out" -E "$execs" -V "$max_seconds" -t 1000 \
        "${dict[@]}" -- "$bin/$t" >"$work/out/$t.log" 2>&1 || {
        echo "afl-fuzz for $t exited with $? (log: $work/out/$t.log)" >&2
        tail -20 "$work/out/$t.log" >&2
        status=1
    }
    wall=$(cat "$work/out/$t.wall" 2>/dev/null || echo "?")
    stats="$out/default/fuzzer_stats"
    if [[ -f $stats ]]; then
        crashes=$(stat_of "$stats" saved_crashes)
        hangs=$(stat_of "$stats" saved_hangs)
        rows+=("$(printf '%-14s %12s %8s %8s %6s %9s %7s %9s' "$t" "$(stat_of "$stats" execs_done)" \
            "$(stat_of "$stats" corpus_count)" "$crashes" "$hangs" \
            "$(stat_of "$stats" run_time)s" "${wall}s" "$(stat_of "$stats" execs_per_sec)")")
        if [[ ${crashes:-0} != 0 || ${hangs:-0} != 0 ]]; then
            status=1
            ls "$out"/default/crashes/ "$out"/default/hangs/ 2>/dev/null | sed "s|^|  $t: |"
        fi
    else
        rows+=("$(printf '%-14s %12s' "$t" "no stats")")
        status=1
    fi
    echo "   done in ${wall}s"
done

echo
echo "AFL++ $(cargo afl fuzz -h 2>&1 | grep -o 'afl-fuzz++[0-9a-z.]*' | head -1 | sed 's/afl-fuzz++//'), $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
printf '%-14s %12s %8s %8s %6s %9s %7s %9s\n' target executions corpus crashes hangs afl-time wall execs/s
for r in "${rows[@]}"; do echo "$r"; done
echo "outputs: $work/out/<target>/default/{queue,crashes,hangs}; replay: $bin/replay <target> <file>"

# Known crashers kept in fuzz/regressions/<target>/: report whether each still panics (the
# exit status is only about this run's findings).
for t in "${targets[@]}"; do
    for f in "$here/regressions/$t"/*; do
        [[ -f $f ]] || continue
        if "$bin/replay" "$t" "$f" >/dev/null 2>&1; then
            echo "regression ${f#"$repo"/}: passes (fixed)"
        else
            echo "regression ${f#"$repo"/}: still panics"
        fi
    done
done
exit $status
