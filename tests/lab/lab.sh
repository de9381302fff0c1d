#!/usr/bin/env bash
# linewatch lab network: five network namespaces, simulated SNMP agents,
# a trap receiver, DNS/HTTP targets and link impairments.
# See tests/lab/README.md.  Needs root.  Only 198.18.0.0/15 inside
# namespaces we create is ever addressed.
#
#   lab.sh up | down | status
#   lab.sh impair <link> loss <pct> | blackhole | delay <ms> [jitter-ms] | clear
#   lab.sh link <link> down|up
#   lab.sh reboot rtr|ups            restart a simulated SNMP agent
#   lab.sh exec <host> <cmd...>
#   lab.sh ns <host>                 print the namespace name
#   lab.sh hostlink                  veth root ns <-> app ns (198.19.255.1 <-> .2)
#                                    so a browser on the machine reaches the appliance
#
# Environment: LW_LAB_PREFIX (default lw), LW_LAB_DIR (default /tmp/lw-lab-$prefix),
#              LW_SHARED_DIR (default <repo>/../shared)
set -euo pipefail
umask 022

P="${LW_LAB_PREFIX:-lw}"
D="${LW_LAB_DIR:-/tmp/lw-lab-$P}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SHARED="${LW_SHARED_DIR:-$REPO/../shared}"
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

die() { echo "lab.sh: $*" >&2; exit 1; }
say() { echo "lab.sh[$P]: $*" >&2; }

[[ "$P" =~ ^[a-z][a-z0-9]{0,9}$ ]] || die "LW_LAB_PREFIX must match ^[a-z][a-z0-9]{0,9}\$ (got '$P')"

HOSTS="app rtr isp inet lan"

# link  near-ns near-address    far-ns far-address
# (the interface is called <link> in both namespaces; impairments act on the
#  near end's egress, "link down" takes the far end administratively down)
LINKS="app:rtr:198.18.0.2/24:app:198.18.0.1/24
wan:rtr:198.18.1.2/24:isp:198.18.1.1/24
lan:rtr:198.18.3.1/24:lan:198.18.3.2/24
core:isp:198.18.2.1/24:inet:198.18.2.2/24"

# Simulated-agent interface index behind each router link (ifOperStatus mapping).
ifindex_of() { case "$1" in wan) echo 1 ;; lan) echo 2 ;; *) echo "" ;; esac; }

RTR_SNMP=198.18.0.2
UPS_ADDR=198.18.3.3
INET_ADDR=198.18.2.2
TRAP_ADDR=198.18.0.1
V3_USER=lwv3
V3_AUTH=authpass123
V3_PRIV=privpass123
TRAP_USER=lwtrap
TRAP_ENGINE=0x8000000001020304
RTR_ENGINE=80001f88046c772d727472   # "lw-rtr"
UPS_ENGINE=80001f88046c772d757073   # "lw-ups"

ns() { echo "$P-$1"; }
nsx() { local h="$1"; shift; ip netns exec "$(ns "$h")" "$@"; }
has_ns() { [[ -e "/run/netns/$(ns "$1")" ]]; }

valid_host() { case " $HOSTS " in *" $1 "*) return 0 ;; esac; die "unknown host '$1' (one of: $HOSTS)"; }

link_field() { # link_field <link> <n>: 1 name 2 near-ns 3 near-addr 4 far-ns 5 far-addr
    local l
    l="$(printf '%s\n' "$LINKS" | grep "^$1:" || true)"
    [[ -n $l ]] || die "unknown link '$1' (one of: app wan lan core)"
    echo "$l" | cut -d: -f"$2"
}

# poll <timeout-s> <description> <cmd...>: run cmd every 0.1 s until it succeeds
poll() {
    local t="$1" what="$2"; shift 2
    local end=$((SECONDS + t))
    while ! "$@" >/dev/null 2>&1; do
        if ((SECONDS >= end)); then
            say "timeout after ${t}s waiting for: $what"
            return 1
        fi
        sleep 0.1
    done
}

# ------------------------------------------------------------ processes ---
pidfile() { echo "$D/run/$1.pid"; }

# (these run often: bash builtins only, no forks)
STARTTIME=""
starttime() { # starttime <pid>: sets STARTTIME to field 22 of /proc/<pid>/stat
    local st
    STARTTIME=""
    read -r st 2>/dev/null <"/proc/$1/stat" || return 1
    st="${st##*) }"
    # shellcheck disable=SC2086 # split the fields on purpose
    set -- $st
    [[ $1 != Z && $1 != X ]] || return 1 # a zombie is as good as gone
    STARTTIME="${20}"
}

# exists <name>: the process recorded in the pidfile still runs (any namespace)
exists() {
    local f="$D/run/$1.pid" pid="" st=""
    [[ -s $f ]] || return 1
    read -r pid st <"$f" || true
    [[ -n $pid && -n $st ]] || return 1
    starttime "$pid" && [[ $STARTTIME == "$st" ]]
}

# alive <name>: exists, and lives in one of this lab's namespaces
alive() {
    exists "$1" || return 1
    local pid h
    read -r pid _ <"$D/run/$1.pid"
    for h in $HOSTS; do
        [[ "/proc/$pid/ns/net" -ef "/run/netns/$P-$h" ]] && return 0
    done
    return 1
}

# start <name> <host> <cmd...>: start a daemon in a namespace unless it runs
start() {
    local name="$1" host="$2"; shift 2
    if alive "$name"; then return 0; fi
    stop "$name" # a leftover in a namespace that no longer exists
    ip netns exec "$(ns "$host")" setsid "$@" </dev/null >>"$D/log/$name.log" 2>&1 &
    local pid=$!
    starttime "$pid" || STARTTIME=0
    echo "$pid $STARTTIME" >"$D/run/$name.pid"
}

stop() { # stop <name>: TERM, then KILL after 3 s
    local f pid
    f="$(pidfile "$1")"
    [[ -s $f ]] || return 0
    if exists "$1"; then
        read -r pid _ <"$f"
        kill -TERM "$pid" 2>/dev/null || true
        local end=$((SECONDS + 3))
        while exists "$1" && ((SECONDS < end)); do sleep 0.05; done
        kill -KILL "$pid" 2>/dev/null || true
        while exists "$1"; do sleep 0.05; done
    fi
    rm -f "$f"
}

# ------------------------------------------------------------- topology ---
# ifaces_of <host>: " name name ... " of the interfaces in a namespace
ifaces_of() {
    local line out=" "
    while read -r line; do
        line="${line#*: }"
        out+="${line%%[@:]*} "
    done < <(ip -n "$P-$1" -o link show 2>/dev/null)
    echo "$out"
}

# Static routes; only 198.18.0.0/15 is ever routed (no default route anywhere).
routes_of() {
    case "$1" in
    app) echo "route replace 198.18.0.0/15 via 198.18.0.2" ;;
    rtr) echo "route replace 198.18.0.0/15 via 198.18.1.1" ;;
    isp) printf '%s\n' "route replace 198.18.0.0/24 via 198.18.1.2" "route replace 198.18.3.0/24 via 198.18.1.2" ;;
    inet) echo "route replace 198.18.0.0/15 via 198.18.2.1" ;;
    lan) echo "route replace 198.18.0.0/15 via 198.18.3.1" ;;
    esac
}

# re-add routes the kernel dropped when an interface went down
apply_routes() {
    local h
    for h in $HOSTS; do
        routes_of "$h" | ip -n "$P-$h" -force -batch - >/dev/null 2>&1 || true
    done
}

# Build whatever is missing; few process spawns (this runs on every `up`).
mk_topology() {
    local h existing name nn na fn fa
    existing=" $(ip netns list 2>/dev/null | cut -d' ' -f1 | tr '\n' ' ') "
    for h in $HOSTS; do
        [[ $existing == *" $P-$h "* ]] || ip netns add "$P-$h"
    done
    local -A ifs batch
    for h in $HOSTS; do
        ifs[$h]="$(ifaces_of "$h")"
        batch[$h]="link set lo up"$'\n'
    done
    while IFS=: read -r name nn na fn fa; do
        local near_ok=0 far_ok=0
        [[ ${ifs[$nn]} == *" $name "* ]] && near_ok=1
        [[ ${ifs[$fn]} == *" $name "* ]] && far_ok=1
        if ((near_ok != far_ok)); then # half a pair: rebuild it
            ip -n "$P-$nn" link del "$name" 2>/dev/null || true
            ip -n "$P-$fn" link del "$name" 2>/dev/null || true
            near_ok=0
        fi
        if ((near_ok == 0)); then
            ip link add "$name" netns "$P-$nn" type veth peer name "$name" netns "$P-$fn"
        fi
        batch[$nn]+="addr replace $na dev $name"$'\n'"link set $name up"$'\n'
        batch[$fn]+="addr replace $fa dev $name"$'\n'
        # a link cut with `lab.sh link <l> down` stays cut
        [[ -e "$D/state/link-$name.down" ]] || batch[$fn]+="link set $name up"$'\n'
    done <<<"$LINKS"
    # the UPS answers on a second address of the LAN host
    batch[lan]+="addr replace $UPS_ADDR/24 dev lan"$'\n'
    for h in $HOSTS; do
        ip -n "$P-$h" -batch - <<<"${batch[$h]}"
        # routes via a cut link fail: -force, ignore
        routes_of "$h" | ip -n "$P-$h" -force -batch - >/dev/null 2>&1 || true
        if [[ $h == rtr || $h == isp ]]; then
            ip netns exec "$P-$h" sysctl -qw net.ipv4.ping_group_range="0 2147483647" net.ipv4.ip_forward=1
        else
            ip netns exec "$P-$h" sysctl -qw net.ipv4.ping_group_range="0 2147483647"
        fi
    done
}

# --------------------------------------------------------------- agents ---
setup_snmpsim_dir() { # <agent> <recording> [extra community recordings...]
    local a="$1" rec="$2"; shift 2
    local dd="$D/snmp/$a/data"
    rm -rf "$dd"
    mkdir -p "$dd" "$D/snmp/$a/cache" "$D/snmp/$a/home"
    install -m 0644 "$HERE/snmprec/$rec.snmprec" "$dd/public.snmprec"
    # SNMPv3 with an empty context name selects the data file named after the
    # transport domain of the (only) endpoint: 1.3.6.1.6.1.1.0
    ln -sf public.snmprec "$dd/1.3.6.1.6.1.1.0.snmprec"
    local c
    for c in "$@"; do install -m 0644 "$HERE/snmprec/$c.snmprec" "$dd/$c.snmprec"; done
    chown -R nobody:nogroup "$D/snmp/$a/cache" "$D/snmp/$a/home"
}

start_snmpsim() { # <agent> <host> <addr> <engine-id>
    local a="$1" h="$2" addr="$3" eid="$4"
    # TMPDIR: pysnmp keeps snmpEngineBoots in $TMPDIR/__pysnmp/<engine-id>/boots,
    # so each (re)start of the agent increments boots, as on a real device
    start "snmpsim-$a" "$h" env HOME="$D/snmp/$a/home" TMPDIR="$D/snmp/$a/home" /usr/bin/snmpsimd \
        --process-user=nobody --process-group=nogroup \
        --cache-dir="$D/snmp/$a/cache" \
        --v3-engine-id="$eid" \
        --data-dir="$D/snmp/$a/data" \
        --v3-user="$V3_USER" --v3-auth-proto=SHA --v3-auth-key="$V3_AUTH" \
        --v3-priv-proto=AES --v3-priv-key="$V3_PRIV" \
        --agent-udpv4-endpoint="$addr:161"
}

wait_snmp() { # <from-host> <addr[:port]> <what>
    poll 40 "$3" nsx "$1" snmpget -v2c -c public -t 0.5 -r 0 -Oqv "$2" 1.3.6.1.2.1.1.5.0
}

port_open() { # <host> <u|t> <port>: something listens there
    [[ -n "$(ip netns exec "$P-$1" ss -Hn"$2"l "sport = :$3" 2>/dev/null)" ]]
}

wait_port() { # <host> <u|t> <port> <what>
    poll 20 "$4" port_open "$1" "$2" "$3"
}

write_snmpd_conf() {
    mkdir -p "$D/conf" "$D/persist/snmpd"
    rm -rf "$D/persist/snmpd/"*
    mkdir -p "$D/persist/snmpd/cert_indexes"
    cat >"$D/conf/snmpd.conf" <<EOF
# net-snmp agent of the router's own host OS (generated by lab.sh)
agentAddress udp:$RTR_SNMP:1161,udp:127.0.0.1:1161
rocommunity public default
sysName rtr-host
sysLocation Lab rack 1 (router host OS)
sysContact noc@example.invalid
sysServices 76
dontLogTCPWrappersConnects yes
EOF
}

write_trapd_conf() {
    mkdir -p "$D/conf" "$D/persist/snmptrapd"
    rm -rf "$D/persist/snmptrapd/"*
    mkdir -p "$D/persist/snmptrapd/cert_indexes" # or net-snmp logs its creation
    cat >"$D/conf/snmptrapd.conf" <<EOF
# linewatch lab trap receiver (generated by lab.sh)
disableAuthorization yes
doNotRetainNotificationLogs yes
# SNMPv3 informs (engine ID discovered from us) and traps sent with
#   snmptrap -v3 -e $TRAP_ENGINE -u $TRAP_USER -l authPriv -a SHA -A $V3_AUTH -x AES -X $V3_PRIV
createUser $TRAP_USER SHA $V3_AUTH AES $V3_PRIV
createUser -e $TRAP_ENGINE $TRAP_USER SHA $V3_AUTH AES $V3_PRIV
EOF
}

write_inet_conf() {
    mkdir -p "$D/conf" "$D/www"
    cat >"$D/www/index.html" <<EOF
<!doctype html><title>lab inet host</title><p>linewatch lab: inet host $INET_ADDR</p>
EOF
    echo ok >"$D/www/health"
    cat >"$D/conf/dnsmasq.conf" <<EOF
# authoritative-only lab DNS: never forwards anywhere (generated by lab.sh)
no-resolv
no-hosts
no-poll
bind-interfaces
listen-address=$INET_ADDR
port=53
local=/#/
address=/inet.lab.test/$INET_ADDR
address=/www.lab.test/$INET_ADDR
address=/isp-gw.lab.test/198.18.1.1
address=/rtr.lab.test/$RTR_SNMP
address=/ups.lab.test/$UPS_ADDR
txt-record=lab.test,"linewatch lab"
EOF
}

# snmptrapd MIB options.  With LINEWATCH-MIB in the repo (and ../shared/mibs for
# its imports) traps are logged symbolically; otherwise numerically (-On).
# An explicit -m list instead of "+LINEWATCH-MIB": with -C the compiled-in
# default list would be loaded too and, without Debian's full MIB set, it
# fills the trap log with "Cannot find module" noise.  LW_LAB_TRAP_NUMERIC=1
# forces numeric output.
trapd_args() {
    local args=()
    if [[ -f "$REPO/etc/mibs/LINEWATCH-MIB.txt" && -d "$SHARED/mibs" && -z ${LW_LAB_TRAP_NUMERIC:-} ]]; then
        args+=(-M "+$SHARED/mibs:$REPO/etc/mibs" -m "SNMPv2-MIB:IF-MIB:LINEWATCH-MIB")
    else
        args+=(-m "" -On)
    fi
    printf '%s\n' "${args[@]}"
}

start_agents() {
    # each agent's files are (re)written only when that agent is not running
    if ! alive snmpsim-rtr; then
        setup_snmpsim_dir rtr router xss
        start_snmpsim rtr rtr "$RTR_SNMP" "$RTR_ENGINE"
    fi
    if ! alive snmpsim-ups; then
        setup_snmpsim_dir ups ups
        start_snmpsim ups lan "$UPS_ADDR" "$UPS_ENGINE"
    fi
    if ! alive snmpd; then
        write_snmpd_conf
        start snmpd rtr env SNMP_PERSISTENT_DIR="$D/persist/snmpd" \
            /usr/sbin/snmpd -f -C -c "$D/conf/snmpd.conf" -m "" -Lf "$D/log/snmpd-agent.log"
    fi
    if ! alive snmptrapd; then
        write_trapd_conf
        : >>"$D/traps.log"
        local targs
        mapfile -t targs < <(trapd_args)
        start snmptrapd app env SNMP_PERSISTENT_DIR="$D/persist/snmptrapd" \
            /usr/sbin/snmptrapd -f -C -c "$D/conf/snmptrapd.conf" "${targs[@]}" \
            -Lf "$D/traps.log" "udp:127.0.0.1:1162" "udp:$TRAP_ADDR:162"
    fi
    if ! alive dnsmasq || ! alive httpd; then write_inet_conf; fi
    start dnsmasq inet /usr/sbin/dnsmasq --keep-in-foreground --conf-file="$D/conf/dnsmasq.conf" \
        --pid-file= --user=root --log-facility="$D/log/dnsmasq-queries.log" --log-queries
    start httpd inet "$PY" -m http.server 80 --bind "$INET_ADDR" --directory "$D/www"

    wait_snmp app "$RTR_SNMP" "snmpsimd (router) at $RTR_SNMP:161"
    wait_snmp app "$UPS_ADDR" "snmpsimd (UPS) at $UPS_ADDR:161"
    wait_snmp app "$RTR_SNMP:1161" "snmpd at $RTR_SNMP:1161"
    wait_port app u 162 "snmptrapd on :162"
    wait_port app u 1162 "snmptrapd on :1162"
    wait_port inet u 53 "dnsmasq on $INET_ADDR:53"
    wait_port inet t 80 "http on $INET_ADDR:80"
}

# ----------------------------------------------------------- impairment ---
near_of() { link_field "$1" 2; }
far_of() { link_field "$1" 4; }

nft_table() { echo "lw_$2_$1"; } # <link> <kind>

del_table() { # <link> <kind>
    local n
    n="$(near_of "$1")"
    nsx "$n" nft delete table inet "$(nft_table "$1" "$2")" 2>/dev/null || true
}

impair_loss() {
    local l="$1" pct="$2" n
    [[ $pct =~ ^[0-9]+(\.[0-9]{1,2})?$ ]] || die "loss needs a percentage 0-100 (max 2 decimals)"
    local per10k
    per10k="$(awk -v p="$pct" 'BEGIN{printf "%d", p*100 + 0.5}')"
    ((per10k <= 10000)) || die "loss above 100%"
    n="$(near_of "$l")"
    del_table "$l" loss
    nsx "$n" nft -f - <<EOF
table inet $(nft_table "$l" loss) {
    chain post {
        type filter hook postrouting priority 0; policy accept;
        oifname "$l" numgen random mod 10000 < $per10k counter drop
    }
}
EOF
}

impair_blackhole() {
    local l="$1" n
    n="$(near_of "$l")"
    del_table "$l" bh
    nsx "$n" nft -f - <<EOF
table inet $(nft_table "$l" bh) {
    chain pre {
        type filter hook prerouting priority -10; policy accept;
        iifname "$l" counter drop
    }
    chain post {
        type filter hook postrouting priority -10; policy accept;
        oifname "$l" counter drop
    }
}
EOF
}

delay_stop() {
    local l="$1" n
    n="$(near_of "$l")"
    nsx "$n" tc qdisc del dev "$l" clsact 2>/dev/null || true
    stop "delay-$l"
}

impair_delay() {
    local l="$1" ms="$2" jit="${3:-0}" n
    [[ $ms =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "delay needs milliseconds"
    [[ $jit =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "jitter needs milliseconds"
    n="$(near_of "$l")"
    delay_stop "$l"
    local tap="dly-$l" ready="$D/run/delay-$l.ready"
    rm -f "$ready"
    start "delay-$l" "$n" "$PY" "$HERE/delayer.py" --tap "$tap" --dev "$l" \
        --delay "$ms" --jitter "$jit" --ready-file "$ready"
    poll 10 "delayer TAP $tap" test -s "$ready" || die "delayer for $l did not start (see $D/log/delay-$l.log)"
    ip -n "$(ns "$n")" link set "$tap" up
    nsx "$n" tc qdisc add dev "$l" clsact
    nsx "$n" tc filter add dev "$l" egress protocol all prio 1 u32 match u32 0 0 \
        action mirred egress redirect dev "$tap"
}

impair_clear() {
    local l="$1"
    del_table "$l" loss
    del_table "$l" bh
    delay_stop "$l"
}

# ------------------------------------------------------ agent value flip ---
rtr_set() { # <oid> <type> <value>: set a value in the simulated router (writecache)
    nsx rtr snmpset -v2c -c public -t 1 -r 2 -Oqv "$RTR_SNMP" "$1" "$2" "$3" >/dev/null
}

link_cmd() {
    local l="$1" state="$2" f idx
    f="$(far_of "$l")"
    idx="$(ifindex_of "$l")"
    case "$state" in
    down)
        ip -n "$(ns "$f")" link set "$l" down
        mkdir -p "$D/state" && touch "$D/state/link-$l.down"
        [[ -z $idx ]] || rtr_set "1.3.6.1.2.1.2.2.1.8.$idx" i 2 || say "warning: could not set ifOperStatus.$idx"
        ;;
    up)
        ip -n "$(ns "$f")" link set "$l" up
        rm -f "$D/state/link-$l.down"
        apply_routes
        revive_agents "$f"
        [[ -z $idx ]] || rtr_set "1.3.6.1.2.1.2.2.1.8.$idx" i 1 || say "warning: could not set ifOperStatus.$idx"
        ;;
    *) die "link $l down|up" ;;
    esac
}

# snmpsimd (pysnmp) closes its socket for good when a reply's sendto() fails
# with ENETUNREACH, which happens when a request arrived just before its own
# link went down: the agent then never answers again.  A real agent keeps
# answering once its link is back, so restart any simulator that went deaf
# (its sysUpTime restarts, as after a power cut).
revive_agents() { # <host whose link came up>
    local a addr engine host
    # with another link still down an agent may be unreachable for that reason
    compgen -G "$D/state/link-*.down" >/dev/null && return 0
    for a in rtr ups; do
        case $a in
        rtr) addr=$RTR_SNMP host=rtr engine=$RTR_ENGINE ;;
        ups) addr=$UPS_ADDR host=lan engine=$UPS_ENGINE ;;
        esac
        [[ $host == "$1" ]] && alive "snmpsim-$a" || continue
        nsx app snmpget -v2c -c public -t 1 -r 2 -Oqv "$addr" 1.3.6.1.2.1.1.5.0 >/dev/null 2>&1 && continue
        say "snmpsim-$a does not answer after the link came back: restarting it"
        stop "snmpsim-$a"
        start_snmpsim "$a" "$host" "$addr" "$engine"
        wait_snmp app "$addr" "snmpsimd ($a) after its link came back"
    done
}

reboot_cmd() {
    case "$1" in
    rtr)
        stop snmpsim-rtr
        start_snmpsim rtr rtr "$RTR_SNMP" "$RTR_ENGINE"
        wait_snmp app "$RTR_SNMP" "snmpsimd (router) after reboot"
        local l idx
        for l in wan lan; do # a rebooted router still sees its dead links
            idx="$(ifindex_of "$l")"
            if [[ -e "$D/state/link-$l.down" ]]; then rtr_set "1.3.6.1.2.1.2.2.1.8.$idx" i 2; fi
        done
        ;;
    ups)
        stop snmpsim-ups
        start_snmpsim ups lan "$UPS_ADDR" "$UPS_ENGINE"
        wait_snmp app "$UPS_ADDR" "snmpsimd (UPS) after reboot"
        ;;
    *) die "reboot rtr|ups" ;;
    esac
}

# Optional link from the root namespace to the appliance, for demos: a browser
# on this machine opens http://198.19.255.2:<port>/.  Only one lab at a time
# can have it (fixed /30); it never forwards beyond the app namespace.
HOSTLINK_ROOT=198.19.255.1
HOSTLINK_APP=198.19.255.2
cmd_hostlink() {
    local dev="$P-host"
    has_ns app || die "lab not up"
    if ! ip link show "$dev" >/dev/null 2>&1; then
        if ip -br addr show | grep -q "$HOSTLINK_ROOT/30"; then
            die "another lab already has the host link ($HOSTLINK_ROOT/30)"
        fi
        ip link add "$dev" type veth peer name host netns "$(ns app)"
    fi
    ip addr replace "$HOSTLINK_ROOT/30" dev "$dev"
    ip -n "$(ns app)" addr replace "$HOSTLINK_APP/30" dev host
    ip link set "$dev" up
    ip -n "$(ns app)" link set host up
    say "host link: this machine $HOSTLINK_ROOT <-> appliance $HOSTLINK_APP (dev $dev)"
}

# ------------------------------------------------------------- commands ---
cmd_up() {
    [[ $(id -u) == 0 ]] || die "must run as root"
    mkdir -p "$D/run" "$D/log" "$D/state"
    chmod 755 "$D"
    mk_topology
    start_agents
    say "up (dir $D)"
}

cmd_down() {
    local h nsn pids
    for h in $HOSTS; do
        nsn="$(ns "$h")"
        [[ -e /run/netns/$nsn ]] || continue
        pids="$(ip netns pids "$nsn" 2>/dev/null || true)"
        # shellcheck disable=SC2086 # a list of pids
        [[ -z $pids ]] || kill -TERM $pids 2>/dev/null || true
    done
    local end=$((SECONDS + 3))
    while ((SECONDS < end)); do
        pids=""
        for h in $HOSTS; do
            nsn="$(ns "$h")"
            [[ -e /run/netns/$nsn ]] && pids+="$(ip netns pids "$nsn" 2>/dev/null || true) "
        done
        [[ -z ${pids// /} ]] && break
        sleep 0.05
    done
    for h in $HOSTS; do
        nsn="$(ns "$h")"
        [[ -e /run/netns/$nsn ]] || continue
        pids="$(ip netns pids "$nsn" 2>/dev/null || true)"
        # shellcheck disable=SC2086 # a list of pids
        [[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
    done
    # processes started from pidfiles that somehow left their namespace
    local f pid
    for f in "$D"/run/*.pid; do
        [[ -e $f ]] || continue
        stop "$(basename "$f" .pid)"
    done
    for h in $HOSTS; do
        nsn="$(ns "$h")"
        [[ -e /run/netns/$nsn ]] || continue
        # wait for the killed processes to disappear, then drop the namespace
        end=$((SECONDS + 3))
        while [[ -n "$(ip netns pids "$nsn" 2>/dev/null || true)" ]] && ((SECONDS < end)); do sleep 0.05; done
        ip netns del "$nsn" 2>/dev/null || true
    done
    ip link del "$P-host" 2>/dev/null || true
    rm -rf "$D/state" "$D/run"
    say "down"
}

cmd_status() {
    local rc=0 h name
    echo "prefix $P, dir $D"
    for h in $HOSTS; do
        if has_ns "$h"; then
            printf '  ns %-10s ' "$(ns "$h")"
            ip -n "$(ns "$h")" -br addr show | grep -v '^lo ' |
                awk '{printf "%s(%s", $1, $2; for (i = 3; i <= NF; i++) printf " %s", $i; printf ") "}'
            echo
        else
            echo "  ns $(ns "$h") MISSING"
            rc=1
        fi
    done
    for name in snmpsim-rtr snmpsim-ups snmpd snmptrapd dnsmasq httpd; do
        if alive "$name"; then
            echo "  agent $name pid $(cut -d' ' -f1 "$(pidfile "$name")")"
        else
            echo "  agent $name NOT RUNNING"
            rc=1
        fi
    done
    local l n rules_rtr="" rules_isp="" rules
    has_ns rtr && rules_rtr="$(nsx rtr nft list ruleset 2>/dev/null || true)"
    has_ns isp && rules_isp="$(nsx isp nft list ruleset 2>/dev/null || true)"
    for l in app wan lan core; do
        n="$(near_of "$l")"
        has_ns "$n" || continue
        if [[ $n == rtr ]]; then rules="$rules_rtr"; else rules="$rules_isp"; fi
        local imp="" pct
        pct="$(printf '%s\n' "$rules" | awk -v t="table inet $(nft_table "$l" loss) {" '
            index($0, t) == 1 { f = 1 }
            f && /numgen/ { for (i = 1; i <= NF; i++) if ($i == "<") { print $(i + 1) / 100; exit } }')"
        if [[ -n $pct ]]; then imp+="loss(${pct}%) "; fi
        if grep -q "^table inet $(nft_table "$l" bh) {" <<<"$rules"; then imp+="blackhole "; fi
        if alive "delay-$l"; then imp+="delay "; fi
        if [[ -e "$D/state/link-$l.down" ]]; then imp+="LINK-DOWN "; fi
        echo "  link $l: ${imp:-clean}"
    done
    return $rc
}

main() {
    local cmd="${1:-}"
    [[ -n $cmd ]] || die "usage: lab.sh up|down|status|impair|link|reboot|exec|ns"
    shift
    case "$cmd" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    ns)
        valid_host "${1:-}"
        ns "$1"
        ;;
    exec)
        [[ $# -ge 2 ]] || die "exec <host> <cmd...>"
        valid_host "$1"
        local h="$1"; shift
        has_ns "$h" || die "namespace $(ns "$h") does not exist (lab not up?)"
        exec ip netns exec "$(ns "$h")" "$@"
        ;;
    impair)
        [[ $# -ge 2 ]] || die "impair <link> loss <pct>|blackhole|delay <ms> [jitter]|clear"
        local l="$1" kind="$2"
        link_field "$l" 1 >/dev/null
        has_ns "$(near_of "$l")" || die "lab not up"
        case "$kind" in
        loss) impair_loss "$l" "${3:?loss <pct>}" ;;
        blackhole) impair_blackhole "$l" ;;
        delay) impair_delay "$l" "${3:?delay <ms>}" "${4:-0}" ;;
        clear) impair_clear "$l" ;;
        *) die "unknown impairment '$kind'" ;;
        esac
        ;;
    link)
        [[ $# -eq 2 ]] || die "link <link> down|up"
        link_field "$1" 1 >/dev/null
        link_cmd "$1" "$2"
        ;;
    reboot) reboot_cmd "${1:-}" ;;
    hostlink) cmd_hostlink ;;
    *) die "unknown command '$cmd'" ;;
    esac
}

main "$@"
