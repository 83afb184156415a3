#!/usr/bin/env bash
# terminal-vs-nginx.sh: cache-hit throughput of `meson-cdn terminal` against nginx `proxy_cache`.
#
# One run, one machine, one origin, one client (wrk):
#   origin     plain nginx serving generated files with `Cache-Control: max-age=3600`
#   reference  nginx as a caching reverse proxy (proxy_cache, sendfile, upstream keepalive)
#   ours       meson-cdn terminal (release build) in front of the same origin
# Both caches are warmed (every URL once, then checked to answer HIT), then wrk measures:
#   small  1 KiB objects, wrk rotating over SMALL_PATHS URLs   -> requests/s
#   large  one 16 MiB object                                    -> transfer/s (bytes)
# and the terminal's idle RSS is read from /proc after start-up and after the load.
# It prints a table with ratios (ours / nginx) against the targets and exits 0 whatever the numbers are;
# it exits non-zero only when something could not be set up (install, build, start-up, warm-up, wrk).
#
# Usage:  bench/terminal-vs-nginx.sh            (as root: installs nginx, wrk and curl with apt-get if missing)
#
# Environment (all optional):
#   DURATION=10s          length of each measured wrk run
#   WARMUP=3s             length of the unmeasured wrk run per server and test before the measured ones
#   THREADS=2             wrk threads (-t)
#   CONNECTIONS=64        wrk connections (-c) for the 1 KiB test
#   LARGE_CONNECTIONS=16  wrk connections (-c) for the 16 MiB test
#   ROUNDS=2              measured runs per server and test; the order alternates each round; means are compared
#   SMALL_FILES=300       distinct 1 KiB files generated (all are warmed)
#   SMALL_PATHS=100       how many of them the 1 KiB test rotates over (1 = a single URL, no Lua script)
#   SKIP_BUILD=1          do not run `cargo build --release -p meson-cli`; use the existing binary
#   MESON_BIN=path        terminal binary [default: ${CARGO_TARGET_DIR:-<repo>/target}/release/meson-cdn]
#   KEEP_WORKDIR=1        keep the temp dir (configs, logs, raw wrk outputs) and print its path
#
# Everything listens on 127.0.0.1 only, on free ports picked at random.
set -euo pipefail

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
LARGE_CONNECTIONS=${LARGE_CONNECTIONS:-16}
ROUNDS=${ROUNDS:-2}
SMALL_FILES=${SMALL_FILES:-300}
SMALL_PATHS=${SMALL_PATHS:-100}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_WORKDIR=${KEEP_WORKDIR:-0}

LARGE_SIZE=$((16 * 1024 * 1024))
SMALL_TARGET=1.0   # ours / nginx, requests/s on 1 KiB hits
LARGE_TARGET=0.9   # ours / nginx, bytes/s on 16 MiB hits
RSS_TARGET_MIB=30  # terminal idle RSS

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR=$REPO/$TARGET_DIR # cargo runs in $REPO below
MESON_BIN=${MESON_BIN:-$TARGET_DIR/release/meson-cdn}

BENCH_NAME=terminal-vs-nginx
# shellcheck source=bench/lib.sh
source "$SCRIPT_DIR/lib.sh"

for v in THREADS CONNECTIONS LARGE_CONNECTIONS ROUNDS SMALL_FILES SMALL_PATHS; do
    is_uint "${!v}" && ((${!v} > 0)) || die "$v must be a positive integer, got '${!v}'"
done
((SMALL_FILES <= 10000)) || die "SMALL_FILES must be at most 10000"
((SMALL_PATHS <= SMALL_FILES)) || die "SMALL_PATHS ($SMALL_PATHS) must not exceed SMALL_FILES ($SMALL_FILES)"
((CONNECTIONS >= THREADS && LARGE_CONNECTIONS >= THREADS)) || die "wrk needs at least as many connections as threads"
[[ $DURATION =~ ^[0-9]+[smh]?$ && $WARMUP =~ ^[0-9]+[smh]?$ ]] || die "DURATION and WARMUP look like 10s, 1m"

# ---------------------------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------------------------
ensure_tools
build_release meson-cli MESON_BIN

# ---------------------------------------------------------------------------------------------------------------
# Work dir and clean-up: every process we start is recorded in PIDS and stopped on any exit
# ---------------------------------------------------------------------------------------------------------------
setup_workdir
pick_port ORIGIN_PORT
pick_port REF_PORT
pick_port TERM_PORT
pick_port ADMIN_PORT

# ---------------------------------------------------------------------------------------------------------------
# Content
# ---------------------------------------------------------------------------------------------------------------
log "generating content in $WORK/content: $SMALL_FILES x 1 KiB, 1 x 16 MiB"
mkdir -p "$WORK/content/small"
head -c $((SMALL_FILES * 1024)) /dev/urandom |
    (cd "$WORK/content/small" && split -b 1024 -a 4 -d --additional-suffix=.bin - obj-)
head -c "$LARGE_SIZE" /dev/urandom >"$WORK/content/large-16MiB.bin"
small_path() { printf '/small/obj-%04d.bin' "$1"; }
LARGE_PATH=/large-16MiB.bin
URL_PATHS=()
for ((i = 0; i < SMALL_FILES; i++)); do URL_PATHS+=("$(small_path "$i")"); done
URL_PATHS+=("$LARGE_PATH")

# The 1 KiB test's wrk script: every thread cycles over the first SMALL_PATHS files, from its own offset.
rotate_lua "$WORK/rotate.lua" "$SMALL_PATHS" "/small/obj-%04d.bin"

# ---------------------------------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------------------------------
# Workers run as root when we are root (the temp dir is 0700); nginx ignores `user` otherwise.
NGINX_USER=""
[[ $EUID -eq 0 ]] && NGINX_USER="user root;"

temp_paths() {
    local d=$1
    cat <<EOF
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
EOF
}

mkdir -p "$WORK/origin/tmp" "$WORK/nginx/tmp" "$WORK/nginx/cache"
cat >"$WORK/origin/nginx.conf" <<EOF
$NGINX_USER
worker_processes 2;
pid $WORK/origin/nginx.pid;
error_log $WORK/origin/error.log warn;
events { worker_connections 4096; }
http {
$(temp_paths "$WORK/origin")
    default_type application/octet-stream;
    # Logged so the benchmark can show that no measured request reached the origin.
    access_log $WORK/origin/access.log;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$ORIGIN_PORT;
        root $WORK/content;
        location / {
            add_header Cache-Control "max-age=3600" always;
        }
    }
}
EOF

cat >"$WORK/nginx/nginx.conf" <<EOF
$NGINX_USER
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
$(temp_paths "$WORK/nginx")
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 100000000;
    proxy_cache_path $WORK/nginx/cache levels=1:2 keys_zone=bench:32m max_size=4g inactive=1h use_temp_path=off;
    upstream origin {
        server 127.0.0.1:$ORIGIN_PORT;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$REF_PORT;
        location = /__ready { return 204; }
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering on;
            proxy_cache bench;
            proxy_cache_valid 200 206 1h;
            add_header X-Cache-Status \$upstream_cache_status always;
        }
    }
}
EOF

# start_nginx NAME: config $WORK/NAME/nginx.conf, foreground master in the background; sets NAME_PID.
start_nginx() {
    local name=$1 d=$WORK/$1
    "$NGINX" -t -q -p "$d/" -c "$d/nginx.conf" -e "$d/error.log" ||
        die "nginx config for $name is invalid: $(tail -n 5 "$d/error.log" 2>/dev/null)"
    "$NGINX" -p "$d/" -c "$d/nginx.conf" -e "$d/error.log" -g 'daemon off;' >"$d/stdout.log" 2>&1 &
    PIDS+=($!)
    printf -v "${name^^}_PID" '%d' "$!"
}

# wait_ready NAME PID URL LOG: until URL answers 2xx; dies with the log's tail if the process exits or 10 s pass.
wait_ready() {
    local name=$1 pid=$2 url=$3 logf=$4 i
    for ((i = 0; i < 100; i++)); do
        if ! alive "$pid"; then
            tail -n 20 "$logf" >&2 2>/dev/null || true
            die "$name exited during start-up (log above: $logf)"
        fi
        if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    tail -n 20 "$logf" >&2 2>/dev/null || true
    die "$name did not answer $url within 10 s (log above: $logf)"
}

log "starting origin nginx on 127.0.0.1:$ORIGIN_PORT"
start_nginx origin
wait_ready "origin nginx" "$ORIGIN_PID" "http://127.0.0.1:$ORIGIN_PORT$(small_path 0)" "$WORK/origin/error.log"
curl -fsS -D - -o /dev/null "http://127.0.0.1:$ORIGIN_PORT$LARGE_PATH" | grep -qi '^cache-control: max-age=3600' ||
    die "origin does not send Cache-Control: max-age=3600"

log "starting reference nginx (proxy_cache) on 127.0.0.1:$REF_PORT"
start_nginx nginx
wait_ready "reference nginx" "$NGINX_PID" "http://127.0.0.1:$REF_PORT/__ready" "$WORK/nginx/error.log"

log "starting meson-cdn terminal on 127.0.0.1:$TERM_PORT (admin 127.0.0.1:$ADMIN_PORT): $MESON_BIN"
MESON_LOG=warn "$MESON_BIN" terminal \
    --origin "http://127.0.0.1:$ORIGIN_PORT" \
    --listen "127.0.0.1:$TERM_PORT" \
    --admin-listen "127.0.0.1:$ADMIN_PORT" \
    --data-dir "$WORK/meson-data" \
    --capacity 4GiB \
    >"$WORK/terminal.log" 2>&1 &
TERM_PID=$!
PIDS+=("$TERM_PID")
wait_ready "meson-cdn terminal" "$TERM_PID" "http://127.0.0.1:$ADMIN_PORT/healthz" "$WORK/terminal.log"

# ---------------------------------------------------------------------------------------------------------------
# Memory helpers
# ---------------------------------------------------------------------------------------------------------------

sleep 1
RSS_START_KIB=$(status_kib "$TERM_PID" VmRSS)
log "terminal idle RSS after start-up: $(mib "$RSS_START_KIB") MiB"

# ---------------------------------------------------------------------------------------------------------------
# Warm both caches, then check every URL is a HIT on both
# ---------------------------------------------------------------------------------------------------------------
# fetch_all PORT FORMAT: one curl, one connection, every URL; prints FORMAT per URL.
fetch_all() {
    local port=$1 fmt=$2 args=() p
    for p in "${URL_PATHS[@]}"; do args+=(-o /dev/null "http://127.0.0.1:$port$p"); done
    curl -sS --max-time 120 -w "$fmt" "${args[@]}"
}

# check_hits NAME PORT HEADER: every URL answers 200 with HEADER: HIT (a few tries for fills still being stored).
check_hits() {
    local name=$1 port=$2 hdr=$3 out bad try
    for try in 1 2 3 4 5; do
        out=$(fetch_all "$port" "%{http_code} %header{$hdr}\n") || die "curl against $name failed"
        bad=$(grep -cv '^200 HIT$' <<<"$out" || true)
        ((bad == 0)) && return 0
        sleep 1
    done
    die "$name: $bad of ${#URL_PATHS[@]} URLs are not '200 $hdr: HIT' after warming, e.g.: $(grep -v '^200 HIT$' <<<"$out" | sort | uniq -c | head -3 | tr '\n' ';')"
}

log "warming both caches: ${#URL_PATHS[@]} URLs each"
for srv in "terminal:$TERM_PORT:x-cache" "nginx:$REF_PORT:x-cache-status"; do
    IFS=: read -r name port hdr <<<"$srv"
    out=$(fetch_all "$port" "%{http_code}\n") || die "warming $name failed"
    bad=$(grep -cv '^200$' <<<"$out" || true)
    ((bad == 0)) || die "warming $name: $bad requests did not answer 200: $(sort <<<"$out" | uniq -c | tr '\n' ';')"
done
check_hits "meson-cdn terminal" "$TERM_PORT" x-cache
check_hits "reference nginx" "$REF_PORT" x-cache-status
for port in "$TERM_PORT" "$REF_PORT"; do
    curl -fsS "http://127.0.0.1:$port$LARGE_PATH" | cmp -s - "$WORK/content/large-16MiB.bin" ||
        die "127.0.0.1:$port serves a 16 MiB body that differs from the file"
    curl -fsS "http://127.0.0.1:$port$(small_path 7)" | cmp -s - "$WORK/content$(small_path 7)" ||
        die "127.0.0.1:$port serves a 1 KiB body that differs from the file"
done
log "both caches warm: every URL is a HIT on both, bodies match the files"

# ---------------------------------------------------------------------------------------------------------------
# Measure
# ---------------------------------------------------------------------------------------------------------------
to_bytes() { # wrk's "123.45MB" (binary units) -> bytes
    awk -v s="$1" 'BEGIN {
        if (!match(s, /^[0-9.]+/)) { print "NaN"; exit }
        n = substr(s, 1, RLENGTH); u = substr(s, RLENGTH + 1); m = 1
        if (u == "KB") m = 1024; else if (u == "MB") m = 1024^2; else if (u == "GB") m = 1024^3
        else if (u == "TB") m = 1024^4; else if (u != "B") { print "NaN"; exit }
        printf "%.0f", n * m }'
}
term_hits() { curl -fsS --max-time 5 "http://127.0.0.1:$ADMIN_PORT/metrics" |
    awk '/^meson_terminal_requests_total\{/ && /cache="HIT"/ { s += $NF } END { printf "%.0f", s }'; }
origin_requests() { wc -l <"$WORK/origin/access.log"; }
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
# cpu_ticks PID...: user + system CPU ticks of these processes (all their threads) so far.
# server_pids SERVER: the processes that do a server's work (nginx: master and its children).
server_pids() {
    if [[ $1 == terminal ]]; then echo "$TERM_PID"; else echo "$NGINX_PID" $(children_of "$NGINX_PID"); fi
}

declare -A RESULTS # "small terminal" -> space-separated values of the measured rounds
RUN_NO=0
# run_one TEST SERVER LABEL DURATION
run_one() {
    local test=$1 server=$2 label=$3 dur=$4 port conns url args out o0 h0 pids c0 cpu rps tps bytes reqs non2xx sock lat hits note
    [[ $server == terminal ]] && port=$TERM_PORT || port=$REF_PORT
    args=(-t"$THREADS" -d"$dur" --timeout 10s)
    if [[ $test == small ]]; then
        conns=$CONNECTIONS
        url="http://127.0.0.1:$port$(small_path 0)"
        ((SMALL_PATHS > 1)) && args+=(-s "$WORK/rotate.lua")
    else
        conns=$LARGE_CONNECTIONS
        url="http://127.0.0.1:$port$LARGE_PATH"
    fi
    args+=(-c"$conns")
    RUN_NO=$((RUN_NO + 1))
    out="$WORK/wrk-$RUN_NO-$test-$server-$label.txt"
    o0=$(origin_requests)
    pids=$(server_pids "$server")
    c0=$(cpu_ticks $pids)
    [[ $server == terminal ]] && h0=$(term_hits)
    wrk "${args[@]}" "$url" >"$out" 2>&1 || die "wrk failed against $server ($test): $(tail -n 3 "$out")"
    cpu=$(($(cpu_ticks $pids) - c0)) # server CPU ticks during the run
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    tps=$(awk '/^Transfer\/sec:/ { print $2 }' "$out")
    reqs=$(awk '/ requests in / { print $1 }' "$out")
    [[ -n $rps && -n $tps && -n $reqs ]] || die "cannot parse wrk output ($out): $(cat "$out")"
    bytes=$(to_bytes "$tps")
    [[ $bytes != NaN ]] || die "cannot parse wrk Transfer/sec '$tps'"
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    sock=$(grep -o 'Socket errors:.*' "$out" || true)
    lat=$(awk '$1 == "Latency" { print $2; exit }' "$out")
    if [[ $test == small ]]; then
        cpu=$(awk -v t="$cpu" -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN { v = (n > 0) ? t / hz * 1e6 / n : 0; printf "%.1f", v }')
        note="server CPU ${cpu} us/req"
    else
        cpu=$(awk -v t="$cpu" -v hz="$CLK_TCK" -v n="$reqs" -v sz="$LARGE_SIZE" \
            'BEGIN { v = (n > 0) ? t / hz * 1e3 / (n * sz / 2^30) : 0; printf "%.0f", v }')
        note="server CPU ${cpu} ms/GiB"
    fi
    note+=", origin requests $(($(origin_requests) - o0))"
    if [[ $server == terminal ]]; then
        hits=$(($(term_hits) - h0))
        note+=", X-Cache HIT $hits/$reqs"
    fi
    [[ -n $non2xx ]] && note+=", NON-2xx $non2xx"
    [[ -n $sock ]] && note+=", $sock"
    printf '  %-6s %-8s %-7s %11s req/s %11s/s = %12s B/s  avg latency %-8s %s\n' \
        "$test" "$server" "$label" "$rps" "$tps" "$bytes" "$lat" "$note"
    if [[ $label != warmup ]]; then
        if [[ $test == small ]]; then
            RESULTS["$test $server"]+="$rps "
        else
            RESULTS["$test $server"]+="$bytes "
        fi
        RESULTS["$test $server cpu"]+="$cpu "
    fi
}


for test in small large; do
    if [[ $test == small ]]; then
        log "1 KiB hits: wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $SMALL_PATHS URL(s); warm-up $WARMUP each, then $ROUNDS round(s)"
    else
        log "16 MiB hits: wrk -t$THREADS -c$LARGE_CONNECTIONS -d$DURATION, one URL; warm-up $WARMUP each, then $ROUNDS round(s)"
    fi
    run_one "$test" terminal warmup "$WARMUP"
    run_one "$test" nginx warmup "$WARMUP"
    for ((r = 1; r <= ROUNDS; r++)); do
        if ((r % 2)); then order=(terminal nginx); else order=(nginx terminal); fi
        for server in "${order[@]}"; do
            sleep 1
            run_one "$test" "$server" "round$r" "$DURATION"
        done
    done
done

sleep 2
alive "$TERM_PID" || die "the terminal died during the run: $(tail -n 5 "$WORK/terminal.log")"
RSS_END_KIB=$(status_kib "$TERM_PID" VmRSS)
HWM_KIB=$(status_kib "$TERM_PID" VmHWM)
NGINX_RSS_KIB=$(tree_rss_kib "$NGINX_PID")
NGINX_WORKERS=$(children_of "$NGINX_PID" | wc -l)

# ---------------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------------
small_ours=$(mean "${RESULTS[small terminal]}" %.1f)
small_ref=$(mean "${RESULTS[small nginx]}" %.1f)
large_ours=$(mean "${RESULTS[large terminal]}" %.0f)
large_ref=$(mean "${RESULTS[large nginx]}" %.0f)
small_cpu_ours=$(mean "${RESULTS[small terminal cpu]}" %.1f)
small_cpu_ref=$(mean "${RESULTS[small nginx cpu]}" %.1f)
large_cpu_ours=$(mean "${RESULTS[large terminal cpu]}" %.0f)
large_cpu_ref=$(mean "${RESULTS[large nginx cpu]}" %.0f)
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { v = (r != "n/a" && r + 0 >= t + 0) ? "PASS" : "BELOW"; print v }'; }
rss_verdict() { awk -v k="$1" -v t="$RSS_TARGET_MIB" 'BEGIN { v = (k / 1024 < t) ? "PASS" : "BELOW"; print v }'; }
mibps() { awk -v b="$1" 'BEGIN { printf "%.1f MiB/s", b / 1048576 }'; }
small_ratio=$(ratio "$small_ours" "$small_ref")
large_ratio=$(ratio "$large_ours" "$large_ref")

CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)

{
    echo
    echo "meson-cdn terminal vs nginx proxy_cache: cache hits over loopback"
    echo "  machine : $(nproc) CPU core(s) (${CPU_MODEL:-unknown CPU}), $(uname -r); wrk, both proxies and the origin share them"
    echo "  versions: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), $(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }'), terminal at commit $COMMIT ($MESON_BIN)"
    echo "  wrk     : -t$THREADS -d$DURATION; 1 KiB: -c$CONNECTIONS over $SMALL_PATHS URL(s); 16 MiB: -c$LARGE_CONNECTIONS; warm-up $WARMUP; mean of $ROUNDS round(s), order alternating"
    echo "  nginx   : worker_processes auto ($NGINX_WORKERS children of the master), sendfile, proxy_buffering, upstream keepalive, access_log off"
    echo
    printf '%-34s %18s %18s %8s %10s  %s\n' "test" "terminal" "nginx" "ratio" "target" "result"
    printf '%-34s %18s %18s %8s %10s  %s\n' "----" "--------" "-----" "-----" "------" "------"
    printf '%-34s %18s %18s %7sx %9sx  %s\n' "1 KiB hits, requests/s" "$small_ours" "$small_ref" \
        "$small_ratio" ">= $SMALL_TARGET" "$(verdict "$small_ratio" "$SMALL_TARGET")"
    printf '%-34s %18s %18s %7sx %9sx  %s\n' "16 MiB hits, transfer/s" "$(mibps "$large_ours")" "$(mibps "$large_ref")" \
        "$large_ratio" ">= $LARGE_TARGET" "$(verdict "$large_ratio" "$LARGE_TARGET")"
    printf '%-34s %18s %18s %8s %10s  %s\n' "terminal RSS idle after start-up" "$(mib "$RSS_START_KIB") MiB" "-" "-" \
        "< $RSS_TARGET_MIB MiB" "$(rss_verdict "$RSS_START_KIB")"
    printf '%-34s %18s %18s %8s %10s  %s\n' "terminal RSS idle after the run" "$(mib "$RSS_END_KIB") MiB" \
        "$(mib "$NGINX_RSS_KIB") MiB" "-" "< $RSS_TARGET_MIB MiB" "$(rss_verdict "$RSS_END_KIB")"
    printf '%-34s %18s\n' "terminal peak RSS (VmHWM)" "$(mib "$HWM_KIB") MiB"
    printf '%-34s %18s %18s %7sx %10s  %s\n' "1 KiB hits, server CPU us/request" "$small_cpu_ours" "$small_cpu_ref" \
        "$(ratio "$small_cpu_ours" "$small_cpu_ref")" "-" "(info; lower is better)"
    printf '%-34s %18s %18s %7sx %10s  %s\n' "16 MiB hits, server CPU ms/GiB" "$large_cpu_ours" "$large_cpu_ref" \
        "$(ratio "$large_cpu_ours" "$large_cpu_ref")" "-" "(info; lower is better)"
    echo
    echo "  16 MiB in bytes/s: terminal $large_ours, nginx $large_ref"
    echo "  nginx RSS and CPU are the master plus all its children; ratios are terminal / nginx."
    echo "  Server CPU is user+system time of the server's processes during the measured runs, per request"
    echo "  (1 KiB) or per GiB served (16 MiB): it shows efficiency independently of how the cores were shared."
    echo "  This is a measurement, not a test: BELOW does not fail the script."
}
exit 0
