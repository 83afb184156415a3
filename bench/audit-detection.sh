#!/usr/bin/env bash
# audit-detection.sh: how fast the router's spot-check audits, usage size cap and suspension rule catch
# terminals that cheat, how often they catch honest ones, and what the checking costs in traffic.
#
# Runs `meson-cdn audit-sim` (release build) over SEEDS seeded networks of TERMINALS terminals with the router's
# realistic rates (an audit every 15 minutes per terminal, 1 h epochs, a 2 MiB/s learner), once per rule set:
#   ours        the router's defaults: vetted after 10 passed audits, suspended below 90 % over its latest
#               counted audits (whole epochs back until >= 10 of them, at most 24 epochs: `audit::recent`)
#   storj-like  Storj's numbers in our rule: vetted after 100, suspended below 96 % over >= 100
#   ours-5min   our rule with an audit every 5 minutes
# Each prints the tables of `meson-cdn audit-sim` (see bench/README.md for how to read them). Nothing listens on
# the network and nothing is installed; it exits non-zero only if the build or a run fails.
#
# Usage:  bench/audit-detection.sh
#
# Environment (all optional):
#   SEEDS=200          seeds per rule set
#   TERMINALS=1000     terminals per network (10 per cheating strategy, the rest honest)
#   EPOCHS=6           epochs of cheating measured, after WARMUP=4 honest ones
#   THREADS=           seeds run in parallel [default: all cores]
#   RULES="ours storj-like ours-5min"   which rule sets to run
#   SKIP_BUILD=1       do not run `cargo build --release -p meson-cli`; use the existing binary
#   MESON_BIN=path     [default: ${CARGO_TARGET_DIR:-<repo>/target}/release/meson-cdn]
#   EXTRA="..."        more `audit-sim` flags for every run, e.g. "--origin-bytes-per-sec 64KiB"
set -euo pipefail

SEEDS=${SEEDS:-200}
TERMINALS=${TERMINALS:-1000}
EPOCHS=${EPOCHS:-6}
WARMUP=${WARMUP:-4}
THREADS=${THREADS:-}
RULES=${RULES:-ours storj-like ours-5min}
EXTRA=${EXTRA:-}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_WORKDIR=0

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR=$REPO/$TARGET_DIR
MESON_BIN=${MESON_BIN:-$TARGET_DIR/release/meson-cdn}

BENCH_NAME=audit-detection
# shellcheck source=bench/lib.sh
source "$SCRIPT_DIR/lib.sh"

for v in SEEDS TERMINALS EPOCHS WARMUP; do
    is_uint "${!v}" || die "$v must be a whole number, not ${!v}"
done
[[ -z $THREADS ]] || is_uint "$THREADS" || die "THREADS must be a whole number, not $THREADS"

build_release meson-cli MESON_BIN

common=(--seeds "$SEEDS" --terminals "$TERMINALS" --epochs "$EPOCHS" --warmup-epochs "$WARMUP" --epoch-secs 3600)
[[ -z $THREADS ]] || common+=(--threads "$THREADS")
# shellcheck disable=SC2206 # EXTRA is a list of flags
[[ -z $EXTRA ]] || common+=($EXTRA)

for rules in $RULES; do
    case $rules in
    ours) flags=(--vetting-audits 10 --suspend-below 0.9 --audit-interval-secs 900) ;;
    storj-like) flags=(--vetting-audits 100 --suspend-below 0.96 --audit-interval-secs 900) ;;
    ours-5min) flags=(--vetting-audits 10 --suspend-below 0.9 --audit-interval-secs 300) ;;
    *) die "unknown rule set $rules (ours, storj-like, ours-5min)" ;;
    esac
    log "rules: $rules (${flags[*]})"
    started=$(date +%s)
    "$MESON_BIN" audit-sim "${common[@]}" "${flags[@]}" || die "audit-sim failed for $rules"
    log "$rules: $(($(date +%s) - started)) s"
    echo
done
