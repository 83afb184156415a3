# Shared by the benchmark scripts in this directory: messages, tool installs, the release build, a work
# directory whose processes are all stopped on exit, free ports, and /proc readings. Source it after
# setting BENCH_NAME (the script's name in error messages), SKIP_BUILD, KEEP_WORKDIR and REPO.

die() {
    echo "$BENCH_NAME: error: $*" >&2
    exit 1
}
log() { echo "==> $*"; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# Installs nginx, wrk and curl with apt-get when missing (as root), and sets NGINX to nginx's path.
ensure_tools() {
    local need=()
    command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx)
    command -v wrk >/dev/null || need+=(wrk)
    command -v curl >/dev/null || need+=(curl)
    if ((${#need[@]})); then
        [[ $EUID -eq 0 ]] || die "missing ${need[*]}: run as root, or: apt-get install -y ${need[*]}"
        log "installing ${need[*]} (apt-get)"
        apt-get update -qq || die "apt-get update failed"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null || die "apt-get install ${need[*]} failed"
    fi
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
    [[ -x $NGINX ]] || die "nginx not found"
}

# build_release PACKAGE BINARY_VAR: `cargo build --release -p PACKAGE` unless SKIP_BUILD=1, then checks that
# the binary named by the variable BINARY_VAR exists.
build_release() {
    local pkg=$1 var=$2
    if [[ $SKIP_BUILD != 1 ]]; then
        log "building: cargo build --release -p $pkg (in $REPO)"
        (cd "$REPO" && cargo build --release -p "$pkg") || die "release build failed"
    fi
    [[ -x ${!var} ]] || die "no binary at ${!var} (build it, or unset SKIP_BUILD, or set $var)"
}

# Creates WORK (a temp dir, made the current directory) and PIDS: every process recorded in PIDS, and its
# children, is stopped on any exit, and WORK is removed unless KEEP_WORKDIR=1.
setup_workdir() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/meson-bench.XXXXXX")
    cd "$WORK" || die "cannot enter $WORK"
    PIDS=()
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    TAKEN=" $(listening_ports | tr '\n' ' ') "
}

# True while the process exists and is not a zombie.
alive() {
    local s
    { read -r s <"/proc/$1/stat"; } 2>/dev/null || return 1
    s=${s##*) }
    [[ ${s:0:1} != Z ]]
}

# Direct children of a process (nginx workers, cache manager and loader of a master).
children_of() {
    local p s f
    for p in /proc/[0-9]*; do
        { read -r s <"$p/stat"; } 2>/dev/null || continue
        read -r -a f <<<"${s##*) }"
        if [[ ${f[1]} == "$1" ]]; then echo "${p#/proc/}"; fi
    done
    return 0
}

cleanup() {
    local rc=$? pid kids=() i
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do
        alive "$pid" || continue
        kids+=($(children_of "$pid"))
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}" "${kids[@]}"; do
        for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
        if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ $KEEP_WORKDIR == 1 ]]; then
        echo "work dir kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}

# Free ports on 127.0.0.1: not listening now (per /proc/net/tcp*) and not handed out before.
listening_ports() {
    local f h
    for f in /proc/net/tcp /proc/net/tcp6; do
        if [[ -r $f ]]; then awk 'NR > 1 && $4 == "0A" { n = split($2, a, ":"); print a[n] }' "$f"; fi
    done | while read -r h; do echo $((16#$h)); done
}
pick_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 40000))
        [[ $TAKEN == *" $p "* ]] && continue
        TAKEN+="$p "
        printf -v "$1" '%d' "$p"
        return 0
    done
}

status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; } # PID FIELD -> KiB

# PID -> KiB of it and its children
tree_rss_kib() {
    local total pid
    total=$(status_kib "$1" VmRSS)
    for pid in $(children_of "$1"); do total=$((total + $(status_kib "$pid" VmRSS 2>/dev/null || echo 0))); done
    echo "$total"
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# PID...: user + system CPU ticks of these processes (all their threads) so far
cpu_ticks() {
    local pid s f total=0
    for pid in "$@"; do
        { read -r s <"/proc/$pid/stat"; } 2>/dev/null || continue
        read -r -a f <<<"${s##*) }"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

mean() { awk -v f="$2" '{ for (i = 1; i <= NF; i++) { s += $i; n++ } } END { printf f, s / n }' <<<"$1"; } # VALUES FORMAT
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# rotate_lua FILE N FORMAT: a wrk script in which every thread cycles over N request paths,
# string.format(FORMAT, k) for k = 0..N-1, each thread from its own random offset.
rotate_lua() {
    cat >"$1" <<EOF
local n = $2
local reqs = {}
local i = 0
function init(args)
  for k = 1, n do
    reqs[k] = wrk.format("GET", string.format("$3", k - 1))
  end
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
  i = math.random(n) - 1
end
function request()
  i = i % n + 1
  return reqs[i]
end
EOF
}
