#!/usr/bin/env bash
# Lab tests: for each scenario, bring the lab up, run the probe with the shipped targets/ (plus one
# plain http:// URL when the lists have no http target) in the client namespace over the direct path
# and a SOCKS5 control path (microsocks, which the censor lets through), and check per host which
# step failed with which failure string and the verdict's status and method; then bring the lab
# down and check
# that nothing is left and that the root namespace and the machine are exactly as before the first
# `up` (links, addresses, routes, rules, iptables/nftables, /etc/netns, /run/netns and its mount,
# net.* sysctls, server processes). Finally, a crashed `up` (SIGKILL in the middle) must be cleaned
# by `down`, to the same state.
#
#   tests/lab/run_scenarios.sh [--expect-wrong] [SCENARIO...]   (default: every scenario of `scripts/lab list`;
#   --expect-wrong gives `open` a wrong expected verdict, so the run must fail)
#
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root, no network namespaces, tool missing).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB=$ROOT/scripts/lab
PROBE=${PROBE:-$ROOT/build/probe}
# The probe's step timeout in every run (seconds). Three runs go at once; a sanitizer build is some
# times slower, and on two cores its TLS handshakes took over 2 s now and then (a decoy handshake
# timed out where the lab serves it): tests/CMakeLists.txt gives that build more.
LAB_TIMEOUT=${PROBE_LAB_TIMEOUT:-2}
TARGETS=$ROOT/targets
NS=(plab-client plab-censor plab-vpn plab-net)
CLIENT_ADDR=10.77.1.2
start=$(date +%s.%N)

skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) == 0 ]] || skip "not root (the lab needs network namespaces and iptables)"
for t in ip iptables ip6tables iptables-save ip6tables-save nft tc sysctl mountpoint dnsmasq nginx \
         microsocks tinyproxy turnserver openssl jq setsid flock ss; do
  command -v "$t" >/dev/null || skip "$t is not installed"
done
[[ -x "$PROBE" ]] || skip "no probe binary at $PROBE (make -C $ROOT/build probe)"
unshare --net true 2>/dev/null || skip "cannot create network namespaces here"
ip netns list >/dev/null 2>&1 || skip "ip netns does not work here"

# PLAB_STATE, PLAB_BLOCKPAGE, PLAB_BLOCKPAGE_TITLE, PLAB_LIAR_DNS, ... (scripts/lab env)
eval "$("$LAB" env)"
STATE=$PLAB_STATE
ROOT_MARK=$STATE.root-state

tmp=$(mktemp -d)
failures=0
cleanup() { "$LAB" down >/dev/null 2>&1 || true; rm -rf -- "$tmp"; }
trap cleanup EXIT

since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
OONI_EXPORTS=()  # every run's OONI export, checked once at the end
FAILED=()  # "scenario/kind: check" of each failure, repeated at the end (CI shows the log's tail)
fail() {
  echo "  FAIL: $*"; failures=$((failures + 1))
  # Its first line, cut at 300 characters, without a pipeline: a reader that stops early ends the
  # writer with SIGPIPE, which pipefail and set -e turn into the script's exit (141).
  local first=$*
  first=${first%%$'\n'*}
  FAILED+=("${sc:-?}/${CTL:-?}: ${first:0:300}")
}
passed=0
ok() { echo "  ok: $*"; passed=$((passed + 1)); }

# check JQ_FILTER DESCRIPTION: the filter prints one line per offending item (empty = pass)
check() {
  local out
  out=$(jq -r "$1" "$report") || { fail "$2 (jq error)"; return; }
  if [[ -z "$out" ]]; then ok "$2"; else fail "$2:"; sed -n '1,20s/^/      /p' <<< "$out"; fi
}
# check_lines OUTPUT DESCRIPTION: same for a shell check's output
check_lines() {
  if [[ -z "$1" ]]; then ok "$2"; else fail "$2:"; sed -n '1,20s/^/      /p' <<< "$1"; fi
}

# The processes, namespaces and files of the lab; after `down` none may remain.
snapshot_pids() {
  local f ns
  for f in "$STATE"/pids/*; do [[ -f "$f" ]] && cat "$f"; done
  for ns in "${NS[@]}"; do ip netns pids "$ns" 2>/dev/null || true; done
}
alive() { local st; st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) && [[ "$st" != Z && "$st" != X ]]; }
check_clean() { # PIDS...
  local left="" p ns
  for ns in "${NS[@]}"; do ip netns list | awk '{print $1}' | grep -qx "$ns" && left+=" netns:$ns"; done
  for p in "$@"; do alive "$p" && left+=" pid:$p($(tr '\0' ' ' < /proc/"$p"/cmdline | cut -c1-40))"; done
  for f in /etc/netns/plab-client /etc/netns/plab-censor /etc/netns/plab-vpn /etc/netns/plab-net "$STATE" "$ROOT_MARK"; do
    [[ -e "$f" ]] && left+=" file:$f"
  done
  if [[ -z "$left" ]]; then ok "down left nothing behind"; else fail "left behind after down:$left"; fi
}

# What `up` could change in the root namespace and on the machine, normalised (no counters, mount ids,
# lifetimes or times). sysctls: every net.* key of the first snapshot (keys that appear later come
# from modules loaded on demand, which stay loaded; nf_conntrack_count moves by itself).
sysctl_snapshot() {
  sysctl -a 2>/dev/null | grep -E '^net\.' | grep -vE '^net\.netfilter\.nf_conntrack_count ' > "$tmp/sysctl-now"
  [[ -f "$tmp/sysctl-keys" ]] || awk '{print $1}' "$tmp/sysctl-now" > "$tmp/sysctl-keys"
  awk 'NR == FNR { k[$1]; next } $1 in k' "$tmp/sysctl-keys" "$tmp/sysctl-now"
}
root_snapshot() (
  set +e +o pipefail
  echo "## ip -o link"; ip -o link
  echo "## ip -o addr"; ip -o addr | sed -E 's/(valid|preferred)_lft [^ ]+//g'
  echo "## ip route show table all"; ip route show table all
  echo "## ip rule"; ip rule
  echo "## ip -6 route show table all"; ip -6 route show table all | sed -E 's/expires [^ ]+//g'
  echo "## ip -6 rule"; ip -6 rule
  echo "## ip netns"; ip netns list 2>&1; ip netns list-id 2>&1
  echo "## iptables-save"; iptables-save 2>&1 | grep -v '^#' | sed 's/\[[0-9:]*\]//'
  echo "## ip6tables-save"; ip6tables-save 2>&1 | grep -v '^#' | sed 's/\[[0-9:]*\]//'
  echo "## nft list ruleset"; nft list ruleset 2>&1
  echo "## files"; ls -la --time-style=+ /etc/netns /run/netns "$STATE" "$ROOT_MARK" 2>&1
  echo "## netns mounts"
  grep netns /proc/self/mountinfo | cut -d' ' -f3- | sed -E 's/(shared|master|propagate_from):[0-9]+/\1/g'
  echo "## sysctl net.*"; sysctl_snapshot
  echo "## processes"
  # (not zombies: an exited server whose parent, init here, has not reaped it yet holds nothing)
  ps -eo pid=,stat=,comm=,args= | awk '$2 !~ /^Z/ && $3 ~ /^(dnsmasq|nginx|microsocks|tinyproxy|turnserver)$/'
)
check_root_state() { # WHEN
  root_snapshot > "$tmp/root-now"
  if diff -u "$tmp/root-before" "$tmp/root-now" > "$tmp/root-diff"; then
    ok "root namespace and machine as before the first up ($1)"
  else
    fail "root namespace or machine changed ($1):"; head -60 "$tmp/root-diff" | sed 's/^/      /'
  fi
}

# The shipped lists may have no plain http:// target; then one ad hoc URL on a lab host (the first
# https host of the first list) stands for them, so that every scenario also measures plain HTTP.
mapfile -t target_files < <(find "$TARGETS" -maxdepth 1 -name '*.json' | LC_ALL=C sort)
n_targets=$(jq -s '[.[].targets | length] | add' "${target_files[@]}")
n_http=$(jq -s '[.[].targets[] | select(.kind == "http")] | length' "${target_files[@]}")
PROBE_EXTRA=()
if [[ $n_http == 0 ]]; then
  http_host=$(jq -r '.targets[] | select(.kind == "https" and (.bogon_expected // false | not)) | .host' \
    "${target_files[0]}" | sed -n 1p)
  [[ -n "$http_host" ]] || { echo "FAIL: no https host in ${target_files[0]} to build an http:// URL"; exit 1; }
  PROBE_EXTRA=(--url "http://$http_host/")
  n_targets=$((n_targets + 1)); n_http=1
fi
# host -> app of its first list (an ad hoc URL's result has app "adhoc": it counts for its host's app)
hostapp=$(jq -cs '[.[] | .app as $a | .targets[] | {key: .host, value: $a}] | reverse | from_entries' \
  "${target_files[@]}")

# Common jq definitions: endpoints of the direct path, per app and kind.
JQ_DEFS='
def hostapp: '"$hostapp"';
def eps: .results[] | . as $r | .paths.direct.endpoints[]? |
  {app: (hostapp[$r.host] // $r.app), host: $r.host, kind: $r.kind, e: .};
def fails: [.. | objects | select(has("failure")) | .failure | select(. != null)];
def deps: eps | select(.e.sources | index("direct"));
def show: "\(.host) \(.kind) \(.e.address): \(.e | tojson)";
def blockpage_title: "'"$PLAB_BLOCKPAGE_TITLE"'";
'

check_count() {
  local n=$((n_targets + EXTRA_TARGETS))
  check "if (.results | length) != $n then \"\(.results | length) results, want $n\" else empty end" \
    "one result per target ($n)"
}
check_a_answered() {
  check "$JQ_DEFS"'.results[] | .host as $h | [.paths.direct.queries[] | select(.type == "A")] as $q |
      if ($q | length) == 0 then "\($h): no A query"
      else $q[] | select(.failure != null or ([.answers[].value] | length) == 0) | "\($h): \(tojson)" end' \
    "every host's A query answered"
}
check_endpoints_exist() {
  check "$JQ_DEFS"'.results[] | select(.kind != "dns" and ((.paths.direct.endpoints // []) | length) == 0) | "\(.host) \(.kind): no endpoint"' \
    "every non-dns target has an endpoint"
  check "$JQ_DEFS"'[eps | select(.kind == "http")] | if length < '"$n_http"' then "\(length) http endpoints, want '"$n_http"'" else empty end' \
    "plain http targets measured ($n_http)"
}

# Checks shared by the scenarios that do not touch DNS: every target was measured; every A query of
# the system resolver answered with the lab address; endpoints of the apps not blocked succeed at
# every step; no https or tls endpoint ever reaches the blockpage server.
common_checks() { # BLOCKED_APP (or "")
  local blocked=$1 hostmap
  check_count
  check_a_answered
  hostmap=$(awk -F'\t' '{printf "%s\"%s\":\"%s\"", (NR>1?",":""), $2, $3}' "$STATE/hosts.tsv")
  check ".results[] | . as \$r | ({$hostmap}[\$r.host]) as \$want |
      [.paths.direct.queries[] | select(.type == \"A\") | .answers[].value] as \$got |
      select(\$got != [\$want]) | \"\(\$r.host): got \(\$got), want \(\$want)\"" \
    "A answers are the lab addresses"
  check_endpoints_exist
  check "$JQ_DEFS"'eps | select(.app != "'"$blocked"'") | select((.e | fails | length) > 0) | show' \
    "apps not blocked: no step failed"
  check "$JQ_DEFS"'eps | select(.app != "'"$blocked"'" and (.kind == "https" or .kind == "http")) |
      select(.e.http == null or .e.http.status == null) | show' \
    "apps not blocked: every http(s) endpoint has an HTTP status"
  check "$JQ_DEFS"'eps | select(.app != "'"$blocked"'" and (.kind == "https" or .kind == "tls")) |
      select(.e.tls == null or .e.tls.failure != null) | show' \
    "apps not blocked: every TLS handshake done (tls.failure == null)"
  check "$JQ_DEFS"'eps | select(.kind != "http" and .app != "'"$blocked"'") |
      select(.e.address == "'"$PLAB_BLOCKPAGE"'" or .e.http.title == blockpage_title) | show' \
    "no https/tls endpoint of the apps not blocked reached the blockpage server"
}
check_no_http_blockpage() {
  check "$JQ_DEFS"'eps | select(.kind == "http" and .e.http != null) | select(.e.http.title == blockpage_title) | show' \
    "plain http: the site's own page, not the blockpage"
}

# check_verdicts JQ: JQ maps a result (with $app, the app of its host) to the expected
# "status/method" (method null -> "status/null"); every result's verdict must match it.
check_verdicts() {
  check "$JQ_DEFS"'"'"$CTL"'" as $ctl | .results[] | (hostapp[.host] // .app) as $app | . as $r |
      ('"$1"') as $want | ($r.verdict // {}) as $v | "\($v.status)/\($v.method)" as $got |
      select($got != $want) | "\($r.host) \($r.kind): verdict \($got), want \($want) (\($v.detail // ""))"' \
    "verdicts over $CTL: $2"
}

# Nothing is slowed for one target more than for the others: no suspect, and the throughput phase
# samples nothing (it adds nothing to a run without one). With `stalls`, a body that stalled may be
# one (a slow link's burst starves a connection now and then; its sample reads through).
check_no_suspects() {
  if [[ ${1:-} == stalls ]]; then
    check "$JQ_DEFS"'eps | select(.e.throughput != null and .e.http.body_stop != "stalled") | show' \
      "no throttle suspect: only a stalled body sampled by the throughput phase"
  else
    check "$JQ_DEFS"'eps | select(.e.throughput != null) | show' "no suspect: nothing sampled by the throughput phase"
  fi
}

expect_open() {
  common_checks ""; check_no_http_blockpage; check_window_reads; check_no_suspects
  if [[ $WRONG == 1 ]]; then
    # A deliberately wrong expectation (ctest lab_wrong_expectation, WILL_FAIL): proves these
    # checks can fail.
    check_verdicts '"blocked/dns"' "all blocked dns (deliberately wrong)"
  else
    check_verdicts '"accessible/null"' "all accessible"
  fi
}

# The censor resets every SYN to Facebook's addresses.
expect_tcp_reset() {
  common_checks facebook
  check "$JQ_DEFS"'deps | select(.app == "facebook" and .kind != "stun") | select(.e.tcp.failure != "connection_refused") | show' \
    "facebook: tcp.failure == connection_refused (a RST to the SYN)"
  check_verdicts 'if $app == "facebook" and ($r.kind == "tls" or $r.kind == "https") then "blocked/tcp_ip" else "accessible/null" end' \
    "facebook's TCP targets blocked tcp_ip, the rest accessible"
}

# The censor drops a ClientHello naming a Twitter host: the handshake times out, the decoy passes.
expect_sni_drop() {
  common_checks twitter
  check "$JQ_DEFS"'deps | select(.app == "twitter") | select(.e.tcp.failure != null or .e.tls.failure != "generic_timeout_error" or .e.decoy_tls.failure != null) | show' \
    "twitter: tcp ok, tls.failure == generic_timeout_error, decoy SNI ok"
  check_verdicts 'if $app == "twitter" then "blocked/tls" else "accessible/null" end' "twitter blocked tls, the rest accessible"
  check '.results[] | select(.verdict.method == "tls") | select(.verdict.detail | test("sni") | not) |
      "\(.host): detail \(.verdict.detail)"' "verdicts: tls blocking says sni"
}

# An interceptor the client trusts answers for Twitter: the chain validates on direct, under
# another root than over the control path.
setup_tls_mitm() { SC_ARGS=(--ca-file "$STATE/censor-ca.pem"); }
expect_tls_mitm() {
  common_checks twitter
  check "$JQ_DEFS"'deps | select(.app == "twitter") | select(.e.tls.verified != true or
      ((.e.tls.root // "") | startswith("CN=probe lab censor CA") | not)) | show' \
    "twitter: TLS verified on direct, under the censor CA's root"
  check_verdicts 'if $app == "twitter" then "blocked/tls" else "accessible/null" end' "twitter blocked tls, the rest accessible"
  check '.results[] | select(.verdict.method == "tls") | select(.verdict.detail | test("mitm") | not) |
      "\(.host): detail \(.verdict.detail)"' "verdicts: the interception says mitm"
}

# The censor resets Signal's SNI while the control path is dead: nothing may be called blocked or
# down; working targets stay accessible, Signal's reset is an anomaly (a censorship signature).
setup_control_down() {
  CONTROL_URL_NOW=([socks]=socks5h://10.77.0.10:1081 [http]=http://10.77.0.11:8889 [iface]=iface:vpn0)
  ip netns exec plab-vpn iptables -I FORWARD -j DROP  # gone with the namespace at `down`
  CONTROL_DEAD=1
}
expect_control_down() {
  common_checks signal
  check '.paths[1] | select(.health != "unhealthy" or .successes != 0) | "control path: \(tojson)"' \
    "the dead $CTL control path is unhealthy"
  check_verdicts 'if $app == "signal" and ($r.kind == "https" or $r.kind == "tls") then "anomaly/null"
      elif $r.kind == "dns" then "inconclusive/null" else "accessible/null" end' \
    "signal's TLS targets anomaly, dns-only targets inconclusive (no control to agree with), the rest accessible"
  check '.results[] | select(.verdict.status == "blocked" or .verdict.status == "down") | .host' \
    "nothing blocked or down without a healthy control"
}

# The censor drops STUN. Only an interface control carries UDP: over a proxy, no comparison.
expect_stun_block() {
  common_checks facebook
  check "$JQ_DEFS"'deps | select(.kind == "stun") | select(.e.stun.failure != "generic_timeout_error") | show' \
    "stun: generic_timeout_error"
  check_verdicts 'if $r.kind == "stun" then (if $ctl == "iface" then "blocked/tcp_ip" else "inconclusive/null" end)
      else "accessible/null" end' "stun blocked over an interface control, inconclusive over a proxy; the rest accessible"
}

# Every server address dropped on the direct path: names still resolve (the ISP resolver is the
# censor's own), every target that connects is blocked at tcp_ip, STUN too where a control can test it.
expect_blackhole() {
  check_count
  check_a_answered
  check "$JQ_DEFS"'deps | select(.kind != "dns") | select((.e.tcp // .e.stun).failure != "generic_timeout_error") | show' \
    "every direct connection (tcp or stun) timed out (generic_timeout_error)"
  check_verdicts 'if $r.kind == "dns" then "accessible/null"
      elif $r.kind == "stun" then (if $ctl == "iface" then "blocked/tcp_ip" else "inconclusive/null" end)
      else "blocked/tcp_ip" end' "all but dns targets blocked tcp_ip (stun inconclusive over a proxy)"
}

expect_ip_blackhole() {
  common_checks twitter
  check_no_http_blockpage
  check "$JQ_DEFS"'[eps | select(.app == "twitter")] | if length == 0 then "no twitter endpoints" else empty end' \
    "twitter endpoints measured"
  check "$JQ_DEFS"'eps | select(.app == "twitter") | select(.e.tcp == null or .e.tcp.failure != "generic_timeout_error") | show' \
    "twitter: tcp.failure == generic_timeout_error"
  check "$JQ_DEFS"'eps | select(.app == "twitter") | select(.e.tls != null and .e.tls.failure == null) | show' \
    "twitter: no TLS success after a failed connect"
  check "$JQ_DEFS"'eps | select(.app == "twitter") | select(.e.retest.failure != "generic_timeout_error") | show' \
    "twitter: the re-test timed out too"
  check_verdicts 'if $app == "twitter" then "blocked/tcp_ip" else "accessible/null" end' \
    "twitter blocked tcp_ip, the rest accessible"
}

expect_sni_reset() {
  common_checks signal
  check_no_http_blockpage
  check "$JQ_DEFS"'[eps | select(.app == "signal")] | if length == 0 then "no signal endpoints" else empty end' \
    "signal endpoints measured"
  check "$JQ_DEFS"'eps | select(.app == "signal") | select(.e.tcp == null or .e.tcp.failure != null) | show' \
    "signal: tcp ok (tcp.failure == null)"
  check "$JQ_DEFS"'eps | select(.app == "signal" and (.kind == "https" or .kind == "tls")) |
      select(.e.tls == null or .e.tls.failure != "connection_reset") | show' \
    "signal: tls.failure == connection_reset"
  check "$JQ_DEFS"'eps | select(.app == "signal" and .kind == "https") | select(.e.http != null and .e.http.status != null) | show' \
    "signal: no HTTP status after the reset"
  check "$JQ_DEFS"'eps | select(.app == "signal" and (.kind == "https" or .kind == "tls")) |
      select(.e.decoy_tls.failure != null or .e.retest.failure != "connection_reset") | show' \
    "signal: the decoy SNI passed, the re-test was reset again"
  check_verdicts 'if $app == "signal" and ($r.kind == "https" or $r.kind == "tls") then "blocked/tls" else "accessible/null" end' \
    "signal's TLS targets blocked tls, the rest accessible"
  check '.results[] | select(.verdict.method == "tls") | select(.verdict.detail | test("sni") | not) |
      "\(.host): detail \(.verdict.detail)"' "verdicts: tls blocking says sni"
  check '.results[] | select(.verdict.method == "tls") | select(.verdict.signatures != ["tls_reset", "sni"]) |
      "\(.host): signatures \(.verdict.signatures)"' "verdicts: tls blocking has the signatures tls_reset and sni"
  # The run's table names the kind of blocking from the signatures, as README promises.
  local log="$tmp/probe-$sc-$CTL.log" rows
  rows=$(grep -c ' blocked tls' "$log" || true)
  if [[ $rows -gt 0 && $(grep -c ' blocked tls/sni$' "$log" || true) == "$rows" ]]; then
    ok "the table says blocked tls/sni ($rows targets)"
  else
    fail "the table does not say blocked tls/sni on every tls-blocked row"; grep ' blocked ' "$log" | sed 's/^/      /'
  fi
}

# Every resolver of the direct path lies: the censor DNATs port 53 to its resolver.
expect_dns_hijack() {
  local bp=$PLAB_BLOCKPAGE out
  check_count
  check_a_answered
  check '.results[] | .host as $h | [.paths.direct.queries[] | select(.type == "A") | .answers[].value] |
      select(. != ["'"$bp"'"]) | "\($h): got \(.)"' \
    "every A answer is the blockpage address $bp"
  check '.results[] | .host as $h | .paths.direct.queries[] | select(.type == "AAAA") |
      select(.rcode != "NOERROR" or (.answers | length) > 0) | "\($h): \(tojson)"' \
    "every AAAA answer is empty NOERROR"
  check_endpoints_exist
  check "$JQ_DEFS"'deps | select(.e.address != "'"$bp"'") | show' "every endpoint from direct's DNS is the blockpage address"
  check "$JQ_DEFS"'deps | select(.kind == "https" or .kind == "tls") |
      select(.e.tcp == null or .e.tcp.failure != null or .e.tls == null or .e.tls.failure != "ssl_unknown_authority") | show' \
    "https/tls: tcp ok, tls.failure == ssl_unknown_authority (censor CA not trusted)"
  check "$JQ_DEFS"'deps | select(.kind == "https" or .kind == "tls") |
      select((.e.tls.chain[0].issuer // "") | startswith("CN=probe lab censor CA") | not) | show' \
    "https/tls: the certificate is the censor CA's"
  check "$JQ_DEFS"'deps | select(.kind == "http") | select(.e.http.status != 200 or .e.http.title != blockpage_title) | show' \
    "plain http: the blockpage (200, \"$PLAB_BLOCKPAGE_TITLE\")"
  # the lying resolver saw every name; the ISP resolver saw none of the client's queries
  out=$(jq -r '.results[].host' "$report" | sort -u | awk -v log_file="$STATE/logs/dnsmasq-liar.log" -v c="$CLIENT_ADDR" '
      BEGIN { while ((getline l < log_file) > 0) if (split(l, w, " ") == 5 && w[2] == "query[A]" && w[4] == "from" && w[5] == c) seen[w[3]] = 1 }
      !($1 in seen) { print $1 ": no query[A] from " c " in the lying resolver'"'"'s log" }')
  check_lines "$out" "the lying resolver logged an A query for every host"
  out=$(grep -F " from $CLIENT_ADDR" "$STATE/logs/dnsmasq-isp.log" | head -5 || true)
  check_lines "$out" "the ISP resolver got none of the client's queries"
  # A dns-only target's answers that merely differ are no evidence (CDNs), and STUN is not carried
  # by the SOCKS control: those stay inconclusive rather than risk a false "blocked".
  check_verdicts 'if $r.kind == "dns" or ($r.kind == "stun" and $ctl != "iface") then "inconclusive/null" else "blocked/dns" end' \
    "every target blocked dns, except dns-only ones and stun over a proxy (inconclusive)"
}

# The censor DNATs plain HTTP to its blockpage server; HTTPS is untouched.
expect_http_blockpage() {
  local n
  common_checks ""
  check "$JQ_DEFS"'eps | select(.kind == "http") | select(.e.http.status != 200 or .e.http.title != blockpage_title) | show' \
    "plain http: the blockpage (200, \"$PLAB_BLOCKPAGE_TITLE\")"
  n=$(grep -c '"GET ' "$STATE/logs/blockpage-access.log" 2>/dev/null || true)
  check_lines "$( (( ${n:-0} >= n_http )) || echo "${n:-0} requests logged, want $n_http or more")" \
    "the blockpage server logged the http requests"
  check_verdicts 'if $r.kind == "http" then "blocked/http" else "accessible/null" end' \
    "plain http blocked http, the rest accessible"
}

# The censor shapes what it sends to the client: slower, but everything works. (One run at a
# time: the shaper's queue is sized for one run of the shipped lists.)
setup_throttled() { SC_SERIAL=1; }
# HTTPS pages are read whole when small, else as far as their title (the window), and a
# connection moves under 64 KiB on the wire.
check_window_reads() {
  check "$JQ_DEFS"'eps | select(.kind == "https" and .e.http != null and .e.http.status != null) |
      select((.e.http.body_stop | IN("window", "complete") | not) or .e.http.bytes_received >= 65536) |
      "\(.e.address) body_stop \(.e.http.body_stop) bytes_received \(.e.http.bytes_received)"' \
    "https pages read whole or to their title (under 64 KiB received)"
}
expect_throttled() {
  local qd sent over dropped slowest
  common_checks ""
  check_no_http_blockpage
  qd=$(ip netns exec plab-censor tc -s qdisc show dev cl0)
  sent=$(echo "$qd" | awk '$1 == "Sent" {print $2; exit}')
  over=$(echo "$qd" | sed -n 's/.*overlimits \([0-9]*\).*/\1/p' | sed -n 1p)
  dropped=$(echo "$qd" | sed -n 's/.*dropped \([0-9]*\).*/\1/p' | sed -n 1p)
  check_lines "$(echo "$qd" | grep -q '^qdisc tbf ' || echo "no tbf qdisc on the censor's cl0: $qd")" \
    "tc tbf installed on the censor's cl0"
  slowest=$(jq '[.results[].paths.direct.endpoints[]?.tls.duration_ms // empty] | max | round' "$report")
  check_lines "$( (( ${sent:-0} > 0 )) || echo "the tbf qdisc carried nothing: $qd")" \
    "the probe's traffic went through the shaper ($sent bytes, $over packets over the rate, $dropped dropped, slowest TLS handshake $slowest ms)"
  check_verdicts '"accessible/null"' "all accessible"
}

# A slow line and pages of 300 KiB (scripts/lab's slow-link scenarios): the first burst overruns
# the link, steps time out on every path, and the re-tests at low concurrency get through. Every
# target is accessible: nothing is down, blocked or inconclusive. One run at a time (one shaper).
setup_slow_link() { SC_SERIAL=1; }
setup_slow_link_256k() { SC_SERIAL=1; }
congestion_line() {
  echo "  info: $(jq -r '[.paths[] | "\(.name) \(.congestion.timeouts)/\(.congestion.steps) timed out, \(.congestion.recovered)/\(.congestion.retested) re-tests got through\(if .congestion.congested then " (congested)" else "" end)"] | join("; ")' "$report")"
}
expect_slow_link() {
  check_count
  check_endpoints_exist
  check_window_reads
  check '.paths[] | .congestion | select(.timeouts > .steps or .recovered > .retested or (.congested and (.overrun | not))) |
      "inconsistent: \(tojson)"' "congestion counts consistent"
  check_verdicts '"accessible/null"' "all accessible"
  check_no_suspects stalls
  congestion_line
}
expect_slow_link_256k() {
  expect_slow_link
  check '.paths[0].congestion | select(.timeouts == 0 or .retested == 0) | "direct: \(tojson)"' \
    "direct's first attempts timed out and were re-tested (the scenario overran the link)"
}

# Freezes keyed on the address (iptables connbytes on the replies from Clubhouse's port 80): the
# plain-HTTP target's connection goes silent after 16 KB (its head came: restricted, stalled) or
# after 200 bytes (no head: blocked http, stalled); HTTPS to the same addresses is untouched.
expect_freeze() {
  check_count
  check_a_answered
  check "$JQ_DEFS"'deps | select(.kind == "http") | select(.e.http.body_stop != "stalled" or .e.http.status != 200) | show' \
    "plain http on direct: the head came, then the body stalled (body_stop stalled)"
  check "$JQ_DEFS"'deps | select(.kind == "http") | select(.e.http.idle_ms == null or .e.http.idle_ms * 2 < .e.http.duration_ms) | show' \
    "plain http on direct: its connection silent for half the step or more (idle_ms)"
  check "$JQ_DEFS"'deps | select(.kind == "http") | select(.e.throughput.decoy_sample.body_stop != "stalled") | show' \
    "plain http on direct: the throughput phase's body under the decoy name stalls too (the freeze keys on the address)"
  check_verdicts 'if $r.kind == "http" then "restricted/tcp_ip" else "accessible/null" end' \
    "the plain http target restricted (tcp_ip), the rest accessible"
  check '.results[] | select(.kind == "http") | select(.verdict.signatures != ["stalled"]) | "\(.host): \(.verdict | tojson)"' \
    "the plain http target's signature: stalled"
}

# A throttle keyed on the name (a ClientHello naming www.clubhouse.com marks the connection, and
# replies on it go through a 256 kbit/s class): on direct, its HTTPS page comes slowly while
# control reads it at full speed, and the decoy name's handshake to the same address is fast.
# Restricted, method tls, signature throttled; every other target accessible (no other suspect).
# One run at a time (one shaper).
setup_sni_throttle() { SC_SERIAL=1; }
expect_sni_throttle() {
  check_count
  check_a_answered
  check_endpoints_exist
  check "$JQ_DEFS"'deps | select(.host == "www.clubhouse.com" and .kind == "https") |
      select(.e.throughput.sample.rate == null or .e.throughput.handshake == null or .e.throughput.decoy_handshake == null) | show' \
    "www.clubhouse.com on direct: sampled (body rate, real and decoy handshakes)"
  check "$JQ_DEFS"'deps | select((.host != "www.clubhouse.com" or .kind != "https") and .e.throughput != null) | show' \
    "no other target is a suspect"
  check_verdicts 'if $r.host == "www.clubhouse.com" and $r.kind == "https" then "restricted/tls" else "accessible/null" end' \
    "www.clubhouse.com restricted (tls), the rest accessible"
  check '.results[] | select(.verdict.status == "restricted") | select(.verdict.signatures != ["throttled"]) |
      "\(.host): \(.verdict | tojson)"' "the restricted targets' signature: throttled"
  echo "  info: $(jq -r '[.results[] | select(.verdict.status == "restricted") | .paths | to_entries[] |
      .key as $p | .value.endpoints[] | select(.throughput.sample.rate != null) |
      "\($p) \(.throughput.sample.rate / 1024 | floor) KiB/s"] | unique | join(", ")' "$report")"
}
expect_freeze_head() {
  check_count
  check_a_answered
  check "$JQ_DEFS"'deps | select(.kind == "http") | select(.e.http.failure != "generic_timeout_error" or .e.http.status != null) | show' \
    "plain http on direct: no head, a timeout"
  check_verdicts 'if $r.kind == "http" then "blocked/http" else "accessible/null" end' \
    "the plain http target blocked (http), the rest accessible"
  check '.results[] | select(.kind == "http") | select(.verdict.signatures != ["stalled"]) | "\(.host): \(.verdict | tojson)"' \
    "the plain http target's signature: stalled"
}

# The censor NATs the client's direct traffic: servers see (and echo) 10.77.2.1, an address on
# none of the client's interfaces, which the probe learns from the STUN server's answer and
# scrubs like its own.
expect_nat() {
  common_checks ""
  check_verdicts '"accessible/null"' "all accessible"
  check '[.results[].paths.direct.endpoints[]?.http.headers[]? | select(.[0] | ascii_downcase == "x-client-address") | .[1]] |
      if length == 0 then "no X-Client-Address header on direct" elif unique != ["[scrubbed]"] then "echoed: \(unique)" else empty end' \
    "the NAT address the servers echoed is [scrubbed]"
  check_lines "$(grep -HnoE '(^|[^0-9.])10\.77\.2\.1([^0-9]|\.[^0-9]|$)' "$report" "$tmp/probe-$sc-$CTL.log" | head -5 || true)" \
    "the NAT address (10.77.2.1) is nowhere in the report or the output"
}

# Clubhouse's servers drop everything, from every path: down, never blocked; nothing re-tested.
expect_down() {
  common_checks clubhouse
  check "$JQ_DEFS"'deps | select(.app == "clubhouse") | select(.e.tcp.failure != "generic_timeout_error") | show' \
    "clubhouse: tcp.failure == generic_timeout_error on direct"
  check "$JQ_DEFS"'.results[] | (hostapp[.host] // .app) as $app | select($app == "clubhouse" and .kind != "dns") |
      .host as $h | .paths | to_entries[] | select(.key != "direct") | .value.endpoints[] |
      select(.tcp.failure == null) | "\($h) over \(.address): \(tojson)"' \
    "clubhouse: the control path fails there too"
  check "$JQ_DEFS"'.results[] | (hostapp[.host] // .app) as $app | select($app == "clubhouse" and .kind != "dns") |
      .host as $h | .paths | to_entries[] | .key as $p | .value.endpoints[] |
      select(.not_tested == null and .retest.failure != "generic_timeout_error") | "\($h) over \($p) \(.address): retest \(.retest | tojson)"' \
    "clubhouse: re-tested on every path (it timed out everywhere), and timed out again"
  check '.paths[] | select(.congestion.congested) | "\(.name): \(.congestion | tojson)"' \
    "no path congested (a dead site's timeouts come back in its re-tests)"
  check_verdicts 'if $app == "clubhouse" and $r.kind != "dns" then "down/null" else "accessible/null" end' \
    "clubhouse's targets down, the rest accessible"
}

# The ISP resolver says NXDOMAIN for Facebook's names; control resolves them.
expect_dns_nxdomain() {
  check_count
  check "$JQ_DEFS"'.results[] | (hostapp[.host] // .app) as $app | select($app == "facebook") | .host as $h |
      .paths.direct.queries[] | select(.resolver | startswith("system")) |
      select(.failure != "dns_nxdomain_error" or .rcode != "NXDOMAIN") | "\($h): \(tojson)"' \
    "facebook: every system query is NXDOMAIN (dns_nxdomain_error)"
  check "$JQ_DEFS"'deps | select(.app == "facebook") | show' "facebook: direct has no address to connect to"
  check "$JQ_DEFS"'eps | select(.app != "facebook") | select((.e | fails | length) > 0) | show' \
    "other apps: no step failed"
  check_verdicts 'if $app == "facebook" and ($r.kind != "stun" or $ctl == "iface") then "blocked/dns"
      elif $r.kind == "stun" then "inconclusive/null" else "accessible/null" end' \
    "facebook blocked dns (stun over a proxy inconclusive), the rest accessible"
  check '.results[] | select(.verdict.method == "dns") | select(.verdict.detail | test("dns_nxdomain_error") | not) |
      "\(.host): detail \(.verdict.detail)"' "verdicts: the dns blocking says NXDOMAIN"
}

# The ISP resolver answers Twitter's names with 10.10.34.35 and Facebook's with 127.0.0.1.
expect_dns_bogon() {
  check_count
  check "$JQ_DEFS"'.results[] | (hostapp[.host] // .app) as $app | select($app == "facebook" or $app == "twitter") |
      .host as $h | (if $app == "twitter" then "10.10.34.35" else "127.0.0.1" end) as $want |
      .paths.direct.queries[] | select(.resolver | startswith("system")) | select(.type == "A") |
      select(.failure != "dns_bogon_error" or ([.answers[].value] != [$want])) | "\($h): \(tojson)"' \
    "twitter's A answers are 10.10.34.35, facebook's 127.0.0.1, each a dns_bogon_error"
  check "$JQ_DEFS"'deps | select(.app == "facebook" or .app == "twitter") | select(.e.not_tested == null) | show' \
    "no connection to the bogon addresses"
  check "$JQ_DEFS"'eps | select(.app != "facebook" and .app != "twitter") | select((.e | fails | length) > 0) | show' \
    "other apps: no step failed"
  check_verdicts 'if ($app == "facebook" or $app == "twitter") then
        (if $r.kind == "stun" and $ctl != "iface" then "anomaly/null" else "blocked/dns" end)
      else "accessible/null" end' \
    "twitter and facebook blocked dns (stun over a proxy: anomaly, a bogon with no control to compare), the rest accessible"
  check '.results[] | select(.verdict.method == "dns") | select(.verdict.detail | test("special-purpose") | not) |
      "\(.host): detail \(.verdict.detail)"' "verdicts: the dns blocking says special-purpose address"
}

# An injector answers Facebook's names, also when the query goes to 10.77.0.99, which runs no DNS
# server (the --injection-probe); for other names that address stays silent.
setup_dns_injection() { SC_ARGS=(--injection-probe 10.77.0.99); }
expect_dns_injection() {
  local bp=$PLAB_BLOCKPAGE
  check_count
  check "$JQ_DEFS"'.results[] | (hostapp[.host] // .app) as $app | .host as $h |
      .paths.direct.queries[] | select(.resolver | startswith("injection:")) | select(.type == "A") |
      if $app == "facebook" then select(.failure != null or [.answers[].value] != ["'"$bp"'"]) | "\($h): \(tojson)"
      else select(.failure != "generic_timeout_error") | "\($h): \(tojson)" end' \
    "the injection probe: facebook's names answered with $bp, the others silent (generic_timeout_error)"
  check "$JQ_DEFS"'.results[] | (hostapp[.host] // .app) as $app | select($app == "facebook") | .host as $h |
      .paths.direct.queries[] | select(.resolver | startswith("system")) | select(.type == "A") |
      select([.answers[].value] != ["'"$bp"'"]) | "\($h): \(tojson)"' \
    "facebook: the system resolver's A answer is $bp too"
  check "$JQ_DEFS"'eps | select(.app != "facebook") | select((.e | fails | length) > 0) | show' \
    "other apps: no step failed"
  check_verdicts 'if $app == "facebook" then
        (if $r.kind == "dns" then "inconclusive/null" elif $r.kind == "stun" and $ctl != "iface" then "anomaly/null"
         else "blocked/dns" end)
      else "accessible/null" end' \
    "facebook blocked dns (its dns-only target inconclusive; stun over a proxy an anomaly), the rest accessible"
  check '.results[] | select(.verdict.method == "dns" or .verdict.status == "anomaly") |
      select(.verdict.detail | test("inject") | not) | "\(.host): detail \(.verdict.detail)"' \
    "verdicts: the dns blocking says injected"
  check '.results[] | select(.kind == "dns" and .app == "facebook") |
      select(.verdict.detail | test("injection probe was answered") | not) | "\(.host): detail \(.verdict.detail)"' \
    "facebook's dns-only target: the detail names the answered injection probe"
}

# The ISP resolver answers each host's second address (another /24) and control the first: both
# serve the target. Targets that connect are accessible; dns-only targets, whose answers are never
# connected to, stay inconclusive (only a shared address or /24 makes them agree).
expect_cdn_split() {
  local hostmap
  check_count
  hostmap=$(awk -F'\t' '{split($3, o, "."); a = ($3 ~ /^10\.77\./) ? o[1] "." o[2] "." (o[3] + 50) "." o[4] : $3;
    printf "%s\"%s\":\"%s\"", (NR>1?",":""), $2, a}' "$STATE/hosts.tsv")
  check ".results[] | . as \$r | ({$hostmap}[\$r.host]) as \$want |
      [.paths.direct.queries[] | select(.type == \"A\") | .answers[].value] as \$got |
      select(\$got != [\$want]) | \"\(\$r.host): got \(\$got), want \(\$want)\"" \
    "direct's A answers are the second addresses"
  check "$JQ_DEFS"'deps | select(.e.sources | index("control")) | show' \
    "direct's and control's answers never share an address"
  check "$JQ_DEFS"'deps | select((.e | fails | length) > 0) | show' "no step failed at direct's own addresses"
  check_verdicts 'if $r.kind == "dns" and ($r.host != "uptime.signal.org") then "inconclusive/null" else "accessible/null" end' \
    "every target that connects accessible; dns-only targets inconclusive (answers in another /24)"
}

# After a ClientHello naming a Signal host, the censor drops that address's port 443. A second
# target on chat.signal.org, measured after the first (--per-address 1), finds TCP dropped: tagged
# residual, which is no evidence on its own.
setup_residual() {
  SC_ARGS=(--url https://chat.signal.org/second --per-address 1)
  EXTRA_TARGETS=1
  SC_SERIAL=1  # each run needs the censor's list of triggered addresses empty
}
before_run_residual() { "$LAB" up residual >/dev/null 2>&1; }  # an empty recent list for each run
expect_residual() {
  common_checks signal
  check "$JQ_DEFS"'[deps | select(.e.residual == true)] |
      if length != 1 or .[0].host != "chat.signal.org" or .[0].e.tcp.failure != "generic_timeout_error" then
        "want exactly one residual endpoint (chat.signal.org, tcp timeout), got \(map(show))" else empty end' \
    "exactly one endpoint tagged residual: the second chat.signal.org target, whose TCP was dropped"
  check "$JQ_DEFS"'deps | select(.app == "signal" and .kind == "https" and .e.residual != true) |
      select(.e.tcp.failure != null or .e.tls.failure != "connection_reset" or .e.decoy_tls.failure != null) | show' \
    "signal: the other endpoints' TLS reset after TCP and a decoy that passed"
  check_verdicts 'if $app == "signal" and $r.kind == "https" then
        (if ([$r.paths.direct.endpoints[] | select(.residual == true)] | length) > 0 then "inconclusive/null"
         else "blocked/tls" end)
      else "accessible/null" end' \
    "signal blocked tls, the residual target inconclusive, the rest accessible"
  check '.results[] | select([.paths.direct.endpoints[]? | select(.residual == true)] | length > 0) |
      select(.verdict.detail | test("residual") | not) | "\(.host): detail \(.verdict.detail)"' \
    "verdicts: the residual target's detail says residual"
}

# Each app blocked its own way at once; also run with no control path, where nothing may be
# blocked or down: Signal's reset is an anomaly, the rest inconclusive.
setup_mixed() { SC_KINDS=("${CONTROL_KINDS[@]}" none); }
expect_mixed() {
  check_count
  check "$JQ_DEFS"'deps | select(.app == "signal") | select(.e.tcp.failure != null or .e.tls.failure != "connection_reset") | show' \
    "signal: TLS reset after TCP"
  check "$JQ_DEFS"'deps | select(.app == "twitter") | select(.e.tcp.failure != "generic_timeout_error") | show' \
    "twitter: TCP timeout"
  check "$JQ_DEFS"'deps | select(.app == "clubhouse") | select(.e.tcp.failure != "connection_refused") | show' \
    "clubhouse: TCP refused (a reset to the SYN)"
  check "$JQ_DEFS"'.results[] | (hostapp[.host] // .app) as $app | select($app == "facebook") | .host as $h |
      .paths.direct.queries[] | select(.resolver | startswith("system")) | select(.failure != "dns_nxdomain_error") |
      "\($h): \(tojson)"' "facebook: NXDOMAIN"
  if [[ $CTL == none ]]; then
    check_verdicts 'if $r.kind == "dns" then "inconclusive/null"
        elif $app == "signal" then "anomaly/null" else "inconclusive/null" end' \
      "no control: signal's reset an anomaly, everything else inconclusive"
    check '.results[] | select(.verdict.status == "blocked" or .verdict.status == "down" or .verdict.status == "accessible") |
        "\(.host): \(.verdict.status)"' "no control: nothing blocked, down or accessible"
    return
  fi
  check_verdicts 'if $r.kind == "dns" then (if $app == "facebook" then "blocked/dns" else "accessible/null" end)
      elif $app == "signal" then "blocked/tls" elif $app == "twitter" or $app == "clubhouse" then "blocked/tcp_ip"
      elif $r.kind == "stun" and $ctl != "iface" then "inconclusive/null" else "blocked/dns" end' \
    "signal tls, twitter and clubhouse tcp_ip, facebook dns (stun over a proxy inconclusive); agora and uptime accessible"
}

# Privacy: the client's own addresses (eth0 10.77.1.2, vpn0 10.77.3.2) are in neither the report
# nor the probe's output, although the lab's nginx echoes the requester's address in a header;
# on direct, that header says [scrubbed] wherever an HTTP response came.
check_privacy() {
  local leaks
  leaks=$(grep -HnoE '(^|[^0-9.])10\.77\.(1|3)\.2([^0-9]|\.[^0-9]|$)' "$report" "$tmp/probe-$sc-$CTL.log" | head -5 || true)
  check_lines "$leaks" "no client address (10.77.1.2, 10.77.3.2) in the report or the probe's output"
  check '.results[] | .host as $h | .paths.direct.endpoints[]? | select(.http.status != null) |
      [.http.headers[] | select(.[0] | ascii_downcase == "x-client-address") | .[1]] |
      select(length > 0 and . != ["[scrubbed]"]) | "\($h): X-Client-Address \(.)"' \
    "the address the server echoed is [scrubbed] on direct"
  if [[ $sc == open ]]; then
    check '[.results[].paths.direct.endpoints[]?.http.headers[]? | select(.[0] | ascii_downcase == "x-client-address")] |
        if length == 0 then "no X-Client-Address header on direct: the check above proved nothing" else empty end' \
      "open: the echo header is there to be scrubbed"
  fi
}

run_scenario() {
  local sc=$1 t0 t1 pids
  local -a control_args
  echo "== scenario $sc"
  t0=$(date +%s.%N)
  if ! "$LAB" up "$sc" >"$tmp/up-$sc.log" 2>&1; then
    fail "scripts/lab up $sc"; sed 's/^/      /' "$tmp/up-$sc.log"; "$LAB" down >/dev/null 2>&1 || true; return
  fi
  # The same scenario over each kind of control path: SOCKS5, HTTP CONNECT, the VPN interface
  # (and "none", a direct-only run, where a scenario's setup asks for it in SC_KINDS).
  SC_ARGS=() CONTROL_DEAD=0 EXTRA_TARGETS=0 SC_KINDS=("${CONTROL_KINDS[@]}") SC_SERIAL=0
  declare -gA CONTROL_URL_NOW=()
  for CTL in "${CONTROL_KINDS[@]}"; do CONTROL_URL_NOW[$CTL]=${CONTROL_URL[$CTL]}; done
  if declare -F "setup_${sc//-/_}" >/dev/null; then "setup_${sc//-/_}"; fi
  # The runs over each kind go at once (each its own sockets and output), unless the scenario
  # says SC_SERIAL=1: its censor keeps state one run would leave to the next (residual's list of
  # triggered addresses), or the runs would share a resource the checks measure (throttled's
  # shaper queue).
  local -A run_pid=() run_t0=() run_code=()
  for CTL in "${SC_KINDS[@]}"; do
    mkdir -p "$tmp/out-$sc-$CTL"
    if declare -F "before_run_${sc//-/_}" >/dev/null; then "before_run_${sc//-/_}"; fi
    control_args=()
    if [[ $CTL != none ]]; then
      control_args=(--control "${CONTROL_URL_NOW[$CTL]}" --control-resolver 10.77.0.53 --control-timeout "$LAB_TIMEOUT")
    fi
    run_t0[$CTL]=$(date +%s.%N)
    "$LAB" exec "$PROBE" run --targets "$TARGETS" "${PROBE_EXTRA[@]}" --allow-bogon 10.77.0.0/16 \
      --ca-file "$STATE/ca.pem" "${SC_ARGS[@]}" --timeout "$LAB_TIMEOUT" "${control_args[@]}" \
      --out "$tmp/out-$sc-$CTL" >"$tmp/probe-$sc-$CTL.log" 2>&1 &
    run_pid[$CTL]=$!
    if [[ $SC_SERIAL == 1 ]]; then
      run_code[$CTL]=0; wait "${run_pid[$CTL]}" || run_code[$CTL]=$?
      echo "${run_t0[$CTL]} $(date +%s.%N)" > "$tmp/time-$sc-$CTL"
    fi
  done
  for CTL in "${SC_KINDS[@]}"; do
    if [[ $SC_SERIAL != 1 ]]; then
      run_code[$CTL]=0; wait "${run_pid[$CTL]}" || run_code[$CTL]=$?
      echo "${run_t0[$CTL]} $(date +%s.%N)" > "$tmp/time-$sc-$CTL"
    fi
  done
  for CTL in "${SC_KINDS[@]}"; do
    echo "  -- control $CTL"
    if [[ ${run_code[$CTL]} != 0 ]]; then
      fail "probe run over $CTL exited ${run_code[$CTL]}"; sed 's/^/      /' "$tmp/probe-$sc-$CTL.log"
      continue
    fi
    report=$(find "$tmp/out-$sc-$CTL" -name '*.json' | sed -n 1p)
    if [[ -z "$report" ]]; then fail "no report written"; continue; fi
    ok "probe ($(awk '{printf "%.1f", $2 - $1}' "$tmp/time-$sc-$CTL") s): $(grep -m1 ' targets, ' "$tmp/probe-$sc-$CTL.log" | sed 's/^probe: info: //')"
    if [[ $CONTROL_DEAD == 0 && $CTL != none ]]; then
      check '.paths[1] | select(.health != "healthy") | "control path: \(tojson)"' "the $CTL control path is healthy"
    fi
    "expect_${sc//-/_}"
    check_privacy
    if python3 "$ROOT/tests/schema/validate.py" "$ROOT/reports/schema.json" "$report" >"$tmp/schema.log" 2>&1; then
      ok "the report validates against reports/schema.json"
    else
      fail "the report does not validate against reports/schema.json"; sed 's/^/      /' "$tmp/schema.log" | tail -20
    fi
    # Its OONI export, checked at the end with every other by an independent reading of OONI's
    # formats and of the pipeline's join by transaction_id (tests/ooni_check.py, one run for all).
    if "$PROBE" export --probe-asn AS64500 --probe-cc IT "$report" >"$tmp/ooni-$sc-$CTL.jsonl" 2>"$tmp/ooni.err"; then
      OONI_EXPORTS+=("$tmp/ooni-$sc-$CTL.jsonl")
    else
      fail "probe export --format ooni exited $?"; sed 's/^/      /' "$tmp/ooni.err" | tail -5
    fi
  done
  mapfile -t pids < <(snapshot_pids)
  "$LAB" down >/dev/null 2>&1 || fail "scripts/lab down"
  check_clean "${pids[@]}"
  check_root_state "after $sc"
  echo "  time: $(since "$t0") s"
}

crashed_up() {
  echo "== down after a crashed up"
  local stage pids
  for stage in topology netns servers; do
    # a bash in between reports the SIGKILL (to /dev/null), not this script
    PLAB_CRASH_AT=$stage bash -c '"$0" up open >/dev/null 2>&1' "$LAB" 2>/dev/null && { fail "simulated crash at $stage did not crash"; continue; }
    mapfile -t pids < <(snapshot_pids)
    [[ ${#pids[@]} -gt 0 || $stage != servers ]] || fail "crash at $stage: no processes to clean (the hook did not run?)"
    [[ -f "$ROOT_MARK" ]] || fail "crash at $stage: no record of the root state in $ROOT_MARK"
    "$LAB" down >/dev/null 2>&1 || fail "down after a crash at $stage"
    echo "  crash at $stage (${#pids[@]} processes running):"
    check_clean "${pids[@]}"
    check_root_state "after a crash at $stage and down"
  done
  "$LAB" down >/dev/null 2>&1 && ok "down when nothing is up" || fail "down when nothing is up"
}

"$LAB" down >/dev/null 2>&1 || true
root_snapshot > "$tmp/root-before"
WRONG=0
if [[ "${1:-}" == --expect-wrong ]]; then WRONG=1; shift; fi
# PROBE_LAB_CONTROLS: the kinds of control path every scenario runs over (default all three). The
# sanitizer pass takes socks alone: it looks for memory errors, and lab_control_paths runs the
# three kinds at once under it too; the verdicts over each kind are the normal pass's to check.
read -r -a CONTROL_KINDS <<< "${PROBE_LAB_CONTROLS:-socks http iface}"
for kind in "${CONTROL_KINDS[@]}"; do
  [[ " socks http iface " == *" $kind "* ]] || { echo "FAIL: PROBE_LAB_CONTROLS: unknown kind '$kind' (socks, http, iface)"; exit 1; }
done
[[ ${#CONTROL_KINDS[@]} -gt 0 ]] || { echo "FAIL: PROBE_LAB_CONTROLS names no kind"; exit 1; }
declare -A CONTROL_URL=([socks]=socks5h://10.77.0.10:1080 [http]=http://10.77.0.11:8888 [iface]=iface:vpn0)
CTL=socks SC_ARGS=() CONTROL_DEAD=0 EXTRA_TARGETS=0 SC_SERIAL=0
if [[ $# -gt 0 ]]; then scenarios=("$@"); else mapfile -t scenarios < <("$LAB" list | awk '{print $1}'); fi
# PROBE_LAB_SKIP: scenarios to leave out of a full run, by name (the sanitizer pass leaves out the
# slow-link ones: they measure a shaped link's timing, which the normal pass checks, not memory).
if [[ $# -eq 0 && -n "${PROBE_LAB_SKIP:-}" ]]; then
  kept=()
  for sc in "${scenarios[@]}"; do
    if [[ " $PROBE_LAB_SKIP " == *" $sc "* ]]; then echo "== scenario $sc: left out (PROBE_LAB_SKIP)"; else kept+=("$sc"); fi
  done
  scenarios=("${kept[@]}")
fi
# Nothing to run proves nothing: an empty list (a broken `scripts/lab list`) is a failure, not a pass.
[[ ${#scenarios[@]} -gt 0 ]] || { echo "FAIL: no scenarios to run (scripts/lab list gave none)"; exit 1; }
for sc in "${scenarios[@]}"; do
  declare -F "expect_${sc//-/_}" >/dev/null || { fail "scenario $sc has no expectations in this test"; continue; }
  run_scenario "$sc"
done
crashed_up
if [[ ${#OONI_EXPORTS[@]} -gt 0 ]]; then
  echo "== OONI exports"
  sc=ooni CTL=all
  if python3 "$ROOT/tests/ooni_check.py" "${OONI_EXPORTS[@]}" >"$tmp/ooni.log" 2>&1; then
    ok "${#OONI_EXPORTS[@]} reports' OONI exports keep every rule of tests/ooni_check.py ($(tail -1 "$tmp/ooni.log" | sed 's/^ooni_check: //'))"
  else
    fail "OONI exports break rules of tests/ooni_check.py:"; grep -v ' 0 violations$' "$tmp/ooni.log" | sed 's/^/      /' | tail -40
  fi
fi
echo "== final state"
check_root_state "after the final down"

elapsed=$(since "$start")
[[ $passed -gt 0 ]] || fail "no check ran"
if [[ $failures -eq 0 ]]; then echo "PASS: ${#scenarios[@]} scenarios, $passed checks, $elapsed s"; exit 0; fi
echo "FAIL: $failures checks failed, $elapsed s:"
printf '  %s\n' "${FAILED[@]}"
exit 1
