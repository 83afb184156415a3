#!/usr/bin/env bash
# router-vs-nginx-302.sh: redirects per second of the router, with 1,000 registered terminals, against nginx
# answering `return 302`.
#
# One run, one machine, one client (wrk):
#   ours       meson-bench-redirects (release build): a meson-router in-process with TERMINALS registered
#              terminals (real node keys, signed register and heartbeat messages every interval, one shared
#              health server), an account and the site bench.example; clients ask /s/bench.example/<path>
#   reference  nginx, `location / { return 302 http://127.0.0.1:9$uri?t=<padding>; }`, the padding chosen so
#              its Location header is as long as ours (a ticketed Location is ~200 characters)
# Both get the same requests: wrk rotating over PATHS object paths (so the router computes a different
# scheduling key and issues a different ticket each time). Each server gets a warm-up run, then ROUNDS measured
# runs in alternating order; the table compares the mean requests/s against the target (ours >= 0.8x nginx).
# It exits 0 whatever the numbers are; non-zero only when something could not be set up (install, build,
# start-up, a wrong answer before the measurement, wrk).
#
# Usage:  bench/router-vs-nginx-302.sh          (as root: installs nginx, wrk and curl with apt-get if missing)
#
# Environment (all optional):
#   DURATION=10s       length of each measured wrk run
#   WARMUP=3s          length of the unmeasured wrk run per server before the measured ones
#   THREADS=2          wrk threads (-t)
#   CONNECTIONS=64     wrk connections (-c)
#   ROUNDS=2           measured runs per server; the order alternates each round; means are compared
#   PATHS=1000         distinct object paths wrk rotates over (1 = a single URL, no Lua script)
#   TERMINALS=1000     terminals registered with the router
#   REGIONS=4          regions they are spread over (1 to 8)
#   SKIP_BUILD=1       do not run `cargo build --release -p meson-bench-redirects`; use the existing binary
#   BENCH_BIN=path     [default: ${CARGO_TARGET_DIR:-<repo>/target}/release/meson-bench-redirects]
#   KEEP_WORKDIR=1     keep the temp dir (configs, logs, raw wrk outputs) and print its path
#
# Everything listens on 127.0.0.1 only; nginx on a free port picked at random, the router and its health
# server on ports the kernel picks.
set -euo pipefail

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-2}
PATHS=${PATHS:-1000}
TERMINALS=${TERMINALS:-1000}
REGIONS=${REGIONS:-4}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_WORKDIR=${KEEP_WORKDIR:-0}

TARGET=0.8 # ours / nginx, redirects/s
SITE=bench.example

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR=$REPO/$TARGET_DIR # cargo runs in $REPO below
BENCH_BIN=${BENCH_BIN:-$TARGET_DIR/release/meson-bench-redirects}

BENCH_NAME=router-vs-nginx-302
# shellcheck source=bench/lib.sh
source "$SCRIPT_DIR/lib.sh"

for v in THREADS CONNECTIONS ROUNDS PATHS TERMINALS REGIONS; do
    is_uint "${!v}" && ((${!v} > 0)) || die "$v must be a positive integer, got '${!v}'"
done
((PATHS <= 100000)) || die "PATHS must be at most 100000"
((REGIONS <= 8)) || die "REGIONS must be 1 to 8"
((CONNECTIONS >= THREADS)) || die "wrk needs at least as many connections as threads"
[[ $DURATION =~ ^[0-9]+[smh]?$ && $WARMUP =~ ^[0-9]+[smh]?$ ]] || die "DURATION and WARMUP look like 10s, 1m"

# ---------------------------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------------------------
ensure_tools
build_release meson-bench-redirects BENCH_BIN

# ---------------------------------------------------------------------------------------------------------------
# Work dir and clean-up: every process we start is recorded in PIDS and stopped on any exit
# ---------------------------------------------------------------------------------------------------------------
setup_workdir
pick_port REF_PORT

obj_path() { printf '/s/%s/obj-%05d' "$SITE" "$1"; }

# The wrk script: every thread cycles over the PATHS object paths, from its own offset.
rotate_lua "$WORK/rotate.lua" "$PATHS" "/s/$SITE/obj-%05d"

# ---------------------------------------------------------------------------------------------------------------
# Ours: the router with TERMINALS terminals
# ---------------------------------------------------------------------------------------------------------------
log "starting the router with $TERMINALS terminals over $REGIONS region(s): $BENCH_BIN"
"$BENCH_BIN" --terminals "$TERMINALS" --regions "$REGIONS" >"$WORK/router.log" 2>&1 </dev/null &
ROUTER_PID=$!
PIDS+=("$ROUTER_PID")
for ((i = 0; i < 1200; i++)); do # up to 120 s: 1,000 registrations each wait for a reachability check
    if ! alive "$ROUTER_PID"; then
        tail -n 20 "$WORK/router.log" >&2 || true
        die "the router exited during start-up (log above)"
    fi
    grep -q '^READY ' "$WORK/router.log" && break
    sleep 0.1
done
READY=$(grep '^READY ' "$WORK/router.log") || {
    tail -n 20 "$WORK/router.log" >&2 || true
    die "the router did not print READY within 120 s (log above)"
}
ROUTER_URL=$(awk '{ print $2 }' <<<"$READY")
grep '^TERMINALS ' "$WORK/router.log" | sed 's/^/    /'
log "router ready at $ROUTER_URL"

RSS_START_KIB=$(status_kib "$ROUTER_PID" VmRSS)

# One answer of ours: must be a 302 whose Location carries a ticket, to a registered terminal.
sample=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code} %{size_header} %{size_download} %header{location}' \
    "$ROUTER_URL$(obj_path 0)") || die "curl against the router failed"
read -r code hdr_size body_size OURS_LOCATION <<<"$sample"
[[ $code == 302 && $OURS_LOCATION == *meson_ticket=* ]] ||
    die "the router answered '$code', Location '$OURS_LOCATION', not a 302 with a meson_ticket"
OURS_LOC_LEN=${#OURS_LOCATION}
OURS_SIZE="$hdr_size+$body_size"
log "router answers 302, Location of $OURS_LOC_LEN characters: $OURS_LOCATION"

# ---------------------------------------------------------------------------------------------------------------
# Reference: nginx return 302 with a Location as long as ours
# ---------------------------------------------------------------------------------------------------------------
# Ours is "<public_url><path>?meson_rid=...&meson_ticket=..." with <path> the object path after /s/<site>.
# nginx's is "http://127.0.0.1:9$uri?t=<pad>" with $uri the whole request path: pad to the same length.
sample_path=$(obj_path 0)
ref_base="http://127.0.0.1:9"
pad_len=$((OURS_LOC_LEN - ${#sample_path} - ${#ref_base} - 3))
((pad_len > 0)) || pad_len=1
PAD=$(head -c "$pad_len" /dev/zero | tr '\0' 'a')

NGINX_USER=""
[[ $EUID -eq 0 ]] && NGINX_USER="user root;"
mkdir -p "$WORK/nginx/tmp"
cat >"$WORK/nginx/nginx.conf" <<EOF
$NGINX_USER
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    access_log off;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$REF_PORT;
        location = /__ready { return 204; }
        location / { return 302 http://127.0.0.1:9\$uri?t=$PAD; }
    }
}
EOF
"$NGINX" -t -q -p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" ||
    die "nginx config is invalid: $(tail -n 5 "$WORK/nginx/error.log" 2>/dev/null)"
"$NGINX" -p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" -g 'daemon off;' \
    >"$WORK/nginx/stdout.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
for ((i = 0; i < 100; i++)); do
    alive "$NGINX_PID" || die "nginx exited during start-up: $(tail -n 5 "$WORK/nginx/error.log" 2>/dev/null)"
    curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$REF_PORT/__ready" 2>/dev/null && break
    sleep 0.1
done
sample=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code} %{size_header} %{size_download} %header{location}' \
    "http://127.0.0.1:$REF_PORT$(obj_path 0)") || die "nginx did not answer on port $REF_PORT"
read -r code hdr_size body_size REF_LOCATION <<<"$sample"
[[ $code == 302 ]] || die "nginx answered '$code', not 302"
REF_SIZE="$hdr_size+$body_size"
log "nginx answers 302, Location of ${#REF_LOCATION} characters"

# Every path once on each (one curl, one connection): all must be 302; ours must all carry a ticket.
check_all() {
    local base=$1 want=$2 args=() k out bad
    for ((k = 0; k < PATHS; k++)); do args+=(-o /dev/null "$base$(obj_path "$k")"); done
    out=$(curl -sS --max-time 120 -w '%{http_code} %header{location}\n' "${args[@]}") || die "curl against $base failed"
    bad=$(grep -cv "^302 .*$want" <<<"$out" || true)
    ((bad == 0)) || die "$base: $bad of $PATHS paths did not answer 302 with '$want', e.g. $(grep -v "^302 .*$want" <<<"$out" | head -1)"
}
check_all "$ROUTER_URL" "meson_ticket="
check_all "http://127.0.0.1:$REF_PORT" "?t=a"
log "all $PATHS paths answer 302 on both (every router Location carries a meson_ticket)"

# ---------------------------------------------------------------------------------------------------------------
# Measure
# ---------------------------------------------------------------------------------------------------------------
redirected() { curl -fsS --max-time 5 "$ROUTER_URL/metrics" |
    awk '/^meson_router_redirects_total\{/ && /outcome="redirected"/ { s += $NF } END { printf "%.0f", s }'; }
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
server_pids() { if [[ $1 == router ]]; then echo "$ROUTER_PID"; else echo "$NGINX_PID" $(children_of "$NGINX_PID"); fi; }

declare -A RESULTS
RUN_NO=0
run_one() { # SERVER LABEL DURATION
    local server=$1 label=$2 dur=$3 base args out pids c0 r0 cpu rps reqs non2xx sock lat note
    if [[ $server == router ]]; then base=$ROUTER_URL; else base="http://127.0.0.1:$REF_PORT"; fi
    args=(-t"$THREADS" -c"$CONNECTIONS" -d"$dur" --timeout 10s)
    ((PATHS > 1)) && args+=(-s "$WORK/rotate.lua")
    RUN_NO=$((RUN_NO + 1))
    out="$WORK/wrk-$RUN_NO-$server-$label.txt"
    pids=$(server_pids "$server")
    c0=$(cpu_ticks $pids)
    [[ $server == router ]] && r0=$(redirected)
    wrk "${args[@]}" "$base$(obj_path 0)" >"$out" 2>&1 || die "wrk failed against $server: $(tail -n 3 "$out")"
    cpu=$(($(cpu_ticks $pids) - c0))
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    reqs=$(awk '/ requests in / { print $1 }' "$out")
    [[ -n $rps && -n $reqs ]] || die "cannot parse wrk output ($out): $(cat "$out")"
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    sock=$(grep -o 'Socket errors:.*' "$out" || true)
    lat=$(awk '$1 == "Latency" { print $2; exit }' "$out")
    cpu=$(awk -v t="$cpu" -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN { v = (n > 0) ? t / hz * 1e6 / n : 0; printf "%.1f", v }')
    note="server CPU ${cpu} us/req"
    [[ $server == router ]] && note+=", redirected $(($(redirected) - r0))/$reqs"
    [[ -n $non2xx ]] && note+=", NON-2xx/3xx $non2xx"
    [[ -n $sock ]] && note+=", $sock"
    printf '  %-6s %-7s %11s req/s  avg latency %-8s %s\n' "$server" "$label" "$rps" "$lat" "$note"
    if [[ $label != warmup ]]; then
        RESULTS[$server]+="$rps "
        RESULTS[$server cpu]+="$cpu "
    fi
}

log "redirects: wrk -t$THREADS -c$CONNECTIONS -d$DURATION over $PATHS path(s); warm-up $WARMUP each, then $ROUNDS round(s)"
run_one router warmup "$WARMUP"
run_one nginx warmup "$WARMUP"
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then order=(router nginx); else order=(nginx router); fi
    for server in "${order[@]}"; do
        sleep 1
        run_one "$server" "round$r" "$DURATION"
    done
done

sleep 2
alive "$ROUTER_PID" || die "the router died during the run: $(tail -n 5 "$WORK/router.log")"
RSS_END_KIB=$(status_kib "$ROUTER_PID" VmRSS)
HWM_KIB=$(status_kib "$ROUTER_PID" VmHWM)
NGINX_RSS_KIB=$(tree_rss_kib "$NGINX_PID")
NGINX_WORKERS=$(children_of "$NGINX_PID" | wc -l)
IN_ROTATION=$(curl -fsS --max-time 5 "$ROUTER_URL/v1/terminals" | grep -o '"in_rotation":true' | wc -l)

# ---------------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------------
ours=$(mean "${RESULTS[router]}" %.1f)
ref=$(mean "${RESULTS[nginx]}" %.1f)
cpu_ours=$(mean "${RESULTS[router cpu]}" %.1f)
cpu_ref=$(mean "${RESULTS[nginx cpu]}" %.1f)
r=$(ratio "$ours" "$ref")
verdict=$(awk -v r="$r" -v t="$TARGET" 'BEGIN { v = (r != "n/a" && r + 0 >= t + 0) ? "PASS" : "BELOW"; print v }')
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)

{
    echo
    echo "meson-router vs nginx return 302: redirects over loopback"
    echo "  machine : $(nproc) CPU core(s) (${CPU_MODEL:-unknown CPU}), $(uname -r); wrk and both servers share them"
    echo "  versions: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), $(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }'), router at commit $COMMIT ($BENCH_BIN)"
    echo "  router  : $TERMINALS terminals over $REGIONS region(s), $IN_ROTATION in rotation after the run; heartbeats every 5 s"
    echo "  wrk     : -t$THREADS -c$CONNECTIONS -d$DURATION over $PATHS path(s); warm-up $WARMUP; mean of $ROUNDS round(s), order alternating"
    echo "  nginx   : worker_processes auto ($NGINX_WORKERS children of the master), access_log off"
    echo "  answers : router Location ${OURS_LOC_LEN} chars, response ${OURS_SIZE} B (headers+body); nginx Location ${#REF_LOCATION} chars, ${REF_SIZE} B"
    echo
    printf '%-34s %14s %14s %8s %10s  %s\n' "test" "router" "nginx" "ratio" "target" "result"
    printf '%-34s %14s %14s %8s %10s  %s\n' "----" "------" "-----" "-----" "------" "------"
    printf '%-34s %14s %14s %7sx %9sx  %s\n' "redirects (302), requests/s" "$ours" "$ref" "$r" ">= $TARGET" "$verdict"
    printf '%-34s %14s %14s %7sx %10s  %s\n' "server CPU us/request" "$cpu_ours" "$cpu_ref" \
        "$(ratio "$cpu_ours" "$cpu_ref")" "-" "(info; lower is better)"
    printf '%-34s %14s\n' "router RSS after start-up" "$(mib "$RSS_START_KIB") MiB"
    printf '%-34s %14s %14s\n' "RSS after the run" "$(mib "$RSS_END_KIB") MiB" "$(mib "$NGINX_RSS_KIB") MiB"
    printf '%-34s %14s\n' "router peak RSS (VmHWM)" "$(mib "$HWM_KIB") MiB"
    echo
    echo "  The router process also runs the fake terminals' heartbeat sender and health server (and the router's"
    echo "  health probes of all $TERMINALS terminals): their CPU and memory are counted as the router's."
    echo "  nginx RSS and CPU are the master plus all its children; ratios are router / nginx."
    echo "  This is a measurement, not a test: BELOW does not fail the script."
}
exit 0
