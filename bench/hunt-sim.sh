#!/usr/bin/env bash
# hunt-sim.sh: how fast a hunter probing like a client finds a terminal that corrupts a share of its answers
# (to every client, or only to some client prefixes), how often the council upholds its claims, and how many
# false claims it files against honest terminals with flaky networks.
#
# Runs `meson-cdn hunt-sim` (release build) over SEEDS seeded networks of TERMINALS terminals for HOURS hours,
# once per setting in RUNS:
#   default        a hunter probing 360 times an hour (one probe every 10 s) from 8 client prefixes, 2
#                  follow-ups of a timeout (records of 3 probes, the rule's least); a council of 3 probing 10
#                  times each from one prefix
#   council-3      members probe 3 times each (the least the rule judges unreachability on)
#   council-30     members probe 30 times each
#   council-wide   members probe 10 times each from 8 prefixes each
#   fast-hunter    the hunter probes 3,600 times an hour
#   careful-hunter the hunter follows a timeout up 9 times (records of 10 probes)
# Each prints the tables of `meson-cdn hunt-sim` (see bench/README.md for how to read them). Nothing listens on
# the network and nothing is installed; it exits non-zero only if the build or a run fails.
#
# Usage:  bench/hunt-sim.sh
#
# Environment (all optional):
#   SEEDS=1000         seeds per setting
#   TERMINALS=1000     terminals per network: one cheater per scenario, 50 per flaky group, the rest honest
#   HOURS=72           hours simulated
#   THREADS=           seeds run in parallel [default: all cores]
#   RUNS="default council-3 council-30 council-wide fast-hunter careful-hunter"   which settings to run
#   SKIP_BUILD=1       do not run `cargo build --release -p meson-cli`; use the existing binary
#   MESON_BIN=path     [default: ${CARGO_TARGET_DIR:-<repo>/target}/release/meson-cdn]
#   EXTRA="..."        more `hunt-sim` flags for every run, e.g. "--target-zipf 0.8"
set -euo pipefail

SEEDS=${SEEDS:-1000}
TERMINALS=${TERMINALS:-1000}
HOURS=${HOURS:-72}
THREADS=${THREADS:-}
RUNS=${RUNS:-default council-3 council-30 council-wide fast-hunter careful-hunter}
EXTRA=${EXTRA:-}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_WORKDIR=0

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR=$REPO/$TARGET_DIR
MESON_BIN=${MESON_BIN:-$TARGET_DIR/release/meson-cdn}

BENCH_NAME=hunt-sim
# shellcheck source=bench/lib.sh
source "$SCRIPT_DIR/lib.sh"

for v in SEEDS TERMINALS HOURS; do
    is_uint "${!v}" || die "$v must be a whole number, not ${!v}"
done
[[ -z $THREADS ]] || is_uint "$THREADS" || die "THREADS must be a whole number, not $THREADS"

build_release meson-cli MESON_BIN

common=(--seeds "$SEEDS" --terminals "$TERMINALS" --hours "$HOURS")
[[ -z $THREADS ]] || common+=(--threads "$THREADS")
# shellcheck disable=SC2206 # EXTRA is a list of flags
[[ -z $EXTRA ]] || common+=($EXTRA)

for run in $RUNS; do
    case $run in
    default) flags=() ;;
    council-3) flags=(--council-probes 3) ;;
    council-30) flags=(--council-probes 30) ;;
    council-wide) flags=(--council-prefixes 8) ;;
    fast-hunter) flags=(--probes-per-hour 3600) ;;
    careful-hunter) flags=(--follow-ups 9) ;;
    *) die "unknown setting $run (default, council-3, council-30, council-wide, fast-hunter, careful-hunter)" ;;
    esac
    log "setting: $run (${flags[*]:-defaults})"
    started=$(date +%s)
    "$MESON_BIN" hunt-sim "${common[@]}" "${flags[@]}" || die "hunt-sim failed for $run"
    log "$run: $(($(date +%s) - started)) s"
    echo
done
