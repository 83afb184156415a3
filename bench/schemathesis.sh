#!/usr/bin/env bash
# Runs schemathesis (from PyPI) against a live router with the router's own OpenAPI document
# (`GET /v1/openapi.json`): every operation is called with generated requests, and the run fails on any 5xx
# and on any answer whose status, content type or body the document does not allow. See bench/README.md.
#
# It builds `meson-cdn` (debug), starts `meson-cdn router` on 127.0.0.1 with billing on and a data dir in a
# temp dir, and seeds what generated requests should find rather than a 404: an account with a site whose
# escrow holds tokens, and a wallet the operator minted into. Then it runs schemathesis twice: once over
# every operation with the account's API key, once over the operator's operations with the operator token.
#
# Environment:
#   MAX_EXAMPLES   test cases per operation and run (default 50)
#   MAX_TIME       seconds each schemathesis run may take before it counts as failed (default 300)
#   SEED           schemathesis's random seed (default 1, so a run can be repeated)
#   SKIP_BUILD=1   use MESON_BIN as it is
#   MESON_BIN      default ${CARGO_TARGET_DIR:-target}/debug/meson-cdn
#   SCHEMATHESIS_VENV  where schemathesis is installed if missing (default ~/.cache/meson-bench/...)
#   KEEP_WORKDIR=1 keep the temp dir (router log, schemathesis outputs and reports) and print its path
set -euo pipefail

BENCH_NAME=schemathesis.sh
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SKIP_BUILD=${SKIP_BUILD:-}
KEEP_WORKDIR=${KEEP_WORKDIR:-}
MAX_EXAMPLES=${MAX_EXAMPLES:-50}
MAX_TIME=${MAX_TIME:-300}
SEED=${SEED:-1}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
MESON_BIN=${MESON_BIN:-$TARGET/debug/meson-cdn}
SCHEMATHESIS_VERSION=4.32.5
SCHEMATHESIS_VENV=${SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/meson-bench/schemathesis-$SCHEMATHESIS_VERSION}

# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"

is_uint "$MAX_EXAMPLES" || die "MAX_EXAMPLES must be a number"
is_uint "$MAX_TIME" || die "MAX_TIME must be a number"
is_uint "$SEED" || die "SEED must be a number"
command -v curl >/dev/null || die "curl is missing (apt-get install -y curl)"

ST=$SCHEMATHESIS_VENV/bin/st
PY=$SCHEMATHESIS_VENV/bin/python
if [[ ! -x $ST ]]; then
    log "installing schemathesis $SCHEMATHESIS_VERSION into $SCHEMATHESIS_VENV (pip)"
    python3 -m venv "$SCHEMATHESIS_VENV" || die "python3 -m venv failed (apt-get install -y python3-venv)"
    "$SCHEMATHESIS_VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION" || die "pip install schemathesis failed"
fi

if [[ $SKIP_BUILD != 1 ]]; then
    log "building: cargo build -p meson-cli (in $REPO)"
    (cd "$REPO" && cargo build -q -p meson-cli) || die "build failed"
fi
[[ -x $MESON_BIN ]] || die "no binary at $MESON_BIN"

setup_workdir
pick_port PORT
BASE=http://127.0.0.1:$PORT
log "router on $BASE (data dir $WORK/router)"
MESON_LOG=warn "$MESON_BIN" router --listen "127.0.0.1:$PORT" --data-dir "$WORK/router" \
    --billing --epoch-secs 60 >"$WORK/router.log" 2>&1 &
PIDS+=($!)
for ((i = 0; i < 300; i++)); do
    curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
    alive "${PIDS[0]}" || die "the router exited: $(tail -5 "$WORK/router.log")"
    sleep 0.1
done
curl -fsS "$BASE/healthz" >/dev/null || die "the router did not come up"

# api METHOD PATH BEARER BODY FIELD: one call that must succeed; prints the answer's FIELD.
api() {
    local args=(-fsS -X "$1")
    [[ -n $3 ]] && args+=(-H "authorization: Bearer $3")
    [[ -n $4 ]] && args+=(-H 'content-type: application/json' -d "$4")
    curl "${args[@]}" "$BASE$2" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$5"
}

SITE=schemathesis.example
OPERATOR_TOKEN=$(<"$WORK/router/operator.token")
API_KEY=$(api POST /v1/accounts "" '{"name": "schemathesis"}' api_key) || die "cannot open an account"
api POST /v1/sites "$API_KEY" "{\"host\": \"$SITE\", \"origin\": \"http://127.0.0.1:9\"}" host >/dev/null ||
    die "cannot add a site"
ESCROW=$(api GET "/v1/sites/$SITE/billing" "$API_KEY" "" escrow_account) || die "cannot read the escrow"
api POST /v1/ledger/mint "$OPERATOR_TOKEN" "{\"id\": \"1\", \"to\": \"$ESCROW\", \"amount\": \"5\"}" outcome \
    >/dev/null || die "cannot mint into the escrow"
ROUTER_ID=$(api GET /v1/router "" "" id) || die "cannot read the router's id"
WALLET=$(api POST /v1/ledger/mint "$OPERATOR_TOKEN" "{\"id\": \"2\", \"owner\": \"$ROUTER_ID\", \"amount\": \"5\"}" \
    account) || die "cannot mint into a wallet"

# The seeded site, wallet and transfer stand in for those path parameters; every other part of a request
# is generated. Removing a site is left to generated hosts, so the site stays for the operations after.
cat >"$WORK/schemathesis.toml" <<EOF
[[operations]]
include-path-regex = "^/v1/sites/[{]host[}]/"
parameters = { host = "$SITE" }

[[operations]]
include-path-regex = "^/v1/ledger/accounts/"
parameters = { id = "$WALLET" }

[[operations]]
include-path = "/v1/ledger/transfers/{id}"
parameters = { id = "1" }

[[operations]]
include-path = "/v1/terminals/{node}/earnings"
parameters = { node = "$ROUTER_ID" }
EOF

CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
# run NAME HEADER [FILTER...]: one schemathesis run, its output kept in WORK/NAME.txt.
run() {
    local name=$1 header=$2
    shift 2
    log "schemathesis: $name (at most $MAX_EXAMPLES cases per operation, $MAX_TIME s)"
    set +e
    # `timeout` rather than --max-time, which makes fuzzing repeat until the budget is spent.
    timeout "$MAX_TIME" "$ST" --config-file "$WORK/schemathesis.toml" run "$BASE/v1/openapi.json" \
        --checks "$CHECKS" --max-examples "$MAX_EXAMPLES" --seed "$SEED" --workers 2 --request-timeout 10 \
        -H "$header" --report junit --report-dir "$WORK/$name" "$@" 2>&1 | tee "$WORK/$name.txt"
    local rc=${PIPESTATUS[0]}
    set -e
    if ((rc == 124)); then echo "$BENCH_NAME: $name did not finish within $MAX_TIME s" >&2; fi
    return "$rc"
}

# figures NAME: the run's operations tested and test cases, from its summary.
figures() {
    local tested cases
    tested=$(awk '/^ *Tested:/ { print $2 }' "$WORK/$1.txt")
    cases=$(awk '/^Test cases:/ { getline; sub(/^ +/, ""); print }' "$WORK/$1.txt")
    echo "$1: ${tested:-?} operations tested; test cases: ${cases:-?}"
}

failed=0
run business "Authorization: Bearer $API_KEY" || failed=1
run operator "Authorization: Bearer $OPERATOR_TOKEN" --include-tag operator || failed=1
alive "${PIDS[0]}" || die "the router died during the run: $(tail -5 "$WORK/router.log")"
# A handler that panics drops its connection but not the router: its log tells.
if grep -q panicked "$WORK/router.log"; then
    grep -A3 panicked "$WORK/router.log" | head -20 >&2
    failed=1
fi
log "figures"
figures business
figures operator
if ((failed)); then
    die "schemathesis found failures (outputs above; KEEP_WORKDIR=1 keeps the reports)"
fi
log "no 5xx and no answer outside the schema"
