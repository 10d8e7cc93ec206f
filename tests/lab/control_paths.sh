#!/usr/bin/env bash
# Lab tests of the control paths: the shipped targets/ measured over microsocks (SOCKS5), tinyproxy
# (HTTP CONNECT) and the lab's VPN interface, while the censor resets Signal's SNI on the direct
# path. Checks that each path carries DNS and every step, that no control path's DNS reaches the
# censor's resolver, that a refused destination is connection_refused through both proxies, that
# a dead proxy is proxy_error and an unhealthy path, that credentials appear nowhere, and that an
# interface control leaving by the direct path's interface is refused.
#
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root, no namespaces, tool missing).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB=$ROOT/scripts/lab
PROBE=${PROBE:-$ROOT/build/probe}
TARGETS=$ROOT/targets
STATE=/run/probe-lab
start=$(date +%s.%N)

skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) == 0 ]] || skip "not root (the lab needs network namespaces and iptables)"
for t in ip iptables dnsmasq nginx microsocks tinyproxy turnserver openssl jq setsid flock ss base64; do
  command -v "$t" >/dev/null || skip "$t is not installed"
done
[[ -x "$PROBE" ]] || skip "no probe binary at $PROBE"
unshare --net true 2>/dev/null || skip "cannot create network namespaces here"

tmp=$(mktemp -d)
failures=0
extra_pid=""
cleanup() {
  [[ -n "$extra_pid" ]] && kill "$extra_pid" 2>/dev/null
  "$LAB" down >/dev/null 2>&1 || true
  rm -rf -- "$tmp"
}
trap cleanup EXIT

since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
fail() { echo "  FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "  ok: $*"; }
check() { # JQ_FILTER DESCRIPTION [REPORT]: the filter prints one line per offending item
  local out
  out=$(jq -r "$1" "${3:-$report}") || { fail "$2 (jq error)"; return; }
  if [[ -z "$out" ]]; then ok "$2"; else fail "$2:"; sed -n '1,20s/^/      /p' <<< "$out"; fi
}
expect() { # DESCRIPTION COMMAND...: passes when the command succeeds
  local what=$1; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}

# probe_run NAME ARGS...: runs the probe in the client namespace; sets $report, $code, $out, $err
probe_run() {
  local name=$1; shift
  mkdir -p "$tmp/$name"
  out=$tmp/$name.out err=$tmp/$name.err
  code=0
  "$LAB" exec "$PROBE" run --allow-bogon 10.77.0.0/16 --ca-file "$STATE/ca.pem" --timeout 2 \
    --control-timeout 2 --control-resolver 10.77.0.53 --out "$tmp/$name" "$@" >"$out" 2>"$err" || code=$?
  report=$(find "$tmp/$name" -name '*.json' | sed -n 1p)
}

JQ_DEFS='
def eps($p): .results[] | . as $r | .paths[$p].endpoints[]? | {app: $r.app, host: $r.host, kind: $r.kind, e: .};
def fails: [.. | objects | select(has("failure")) | .failure | select(. != null)];
def show: "\(.host) \(.kind) \(.e.address): \(.e | tojson)";
'
CONTROLS=(control control-2 control-3)

echo "== lab up sni-reset"
"$LAB" down >/dev/null 2>&1 || true
if ! "$LAB" up sni-reset >"$tmp/up.log" 2>&1; then sed 's/^/    /' "$tmp/up.log"; fail "scripts/lab up"; exit 1; fi
hostmap=$(awk -F'\t' '{printf "%s\"%s\":\"%s\"", (NR>1?",":""), $2, $3}' "$STATE/hosts.tsv")
isp_before=$(wc -l < "$STATE/logs/dnsmasq-isp.log")
true_before=$(wc -l < "$STATE/logs/dnsmasq-net.log")

echo "== the shipped targets over direct + SOCKS5 + HTTP CONNECT + VPN interface"
t0=$(date +%s.%N)
probe_run all --targets "$TARGETS" --control socks5h://10.77.0.10:1080 --control http://10.77.0.11:8888 \
  --control iface:vpn0
if [[ $code != 0 || -z "$report" ]]; then fail "probe run exited $code"; sed 's/^/    /' "$err"; else
  ok "probe run: $(since "$t0") s"
  check '[.paths[] | "\(.name)/\(.kind)/\(.health)/\(.check_failure)/\(.egress)"] |
      if . != ["direct/direct/unchecked/null/eth0", "control/socks5h/healthy/null/eth0",
               "control-2/http_proxy/healthy/null/eth0", "control-3/interface/healthy/null/vpn0"]
      then "paths: \(.)" else empty end' "paths: names, kinds, health and egress"
  check '.paths[] | select(.detail | test("@")) | .detail' "no credentials in path details"
  for p in "${CONTROLS[@]}"; do
    check ".results[] | . as \$r | ({$hostmap}[\$r.host]) as \$want |
        [.paths[\"$p\"].queries[] | select(.type == \"A\")] as \$q |
        if (\$q | length) == 0 then \"\(\$r.host): no A query on $p\"
        else \$q[] | select(.failure != null or ([.answers[].value] != [\$want])) | \"\(\$r.host): \(tojson)\" end" \
      "$p: DNS carried over the path, every A answer the lab address"
    check "$JQ_DEFS"'eps("'"$p"'") | select(.e.not_tested == null) | select((.e | fails | length) > 0) | show' \
      "$p: no step failed on any endpoint (the censor is bypassed)"
    check "$JQ_DEFS"'[eps("'"$p"'") | select(.app == "signal" and .kind == "https" and .e.not_tested == null)] |
        if length == 0 then "no signal https endpoint measured" else .[] | select(.e.http.status == null) | show end' \
      "$p: Signal's https endpoints answer HTTP (SNI not reset over the control path)"
  done
  check '.results[0].paths.control.queries[0].resolver | if . != "tcp:10.77.0.53:53" then . else empty end' \
    "proxy paths ask the control resolver over TCP through the tunnel"
  check '.results[0].paths["control-3"].queries[0].resolver | if . != "10.77.0.53:53" then . else empty end' \
    "the interface path asks the control resolver over UDP bound to vpn0"
  check "$JQ_DEFS"'eps("control") | select(.kind == "stun") | select(.e.not_tested != "UDP is not carried over a proxy path") | show' \
    "STUN over a proxy path: not_tested"
  check "$JQ_DEFS"'[eps("control-3") | select(.kind == "stun" and .e.stun != null and .e.stun.failure == null)] |
      if length == 0 then "no STUN success over the interface" else empty end' "STUN over the interface path works"
  check "$JQ_DEFS"'eps("direct") | select(.app == "signal" and (.kind == "https" or .kind == "tls")) |
      select(.e.tls.failure != "connection_reset") | show' "direct: Signal's TLS is reset by the censor"
  check '.results[] | .host as $h | .paths.direct.endpoints[]? | select((.sources | index("direct")) == null) |
      "\($h) \(.address) sources \(.sources)"' "endpoints record the paths whose DNS gave them"
  # DNS of the control paths never reaches the censor's resolver: it saw exactly the direct
  # path's queries, and the truthful resolver saw every control query from the control paths'
  # side (not forwarded by the censor's resolver, 10.77.2.1, which merges identical questions).
  n_direct=$(jq '[.results[].paths.direct.queries | length] | add' "$report")
  n_control=$(jq '[.results[].paths | to_entries[] | select(.key != "direct") | .value.queries | length] | add' "$report")
  isp=$(tail -n +$((isp_before + 1)) "$STATE/logs/dnsmasq-isp.log" | grep -c 'query\[' || true)
  truthful=$(tail -n +$((true_before + 1)) "$STATE/logs/dnsmasq-net.log" | grep 'query\[' | grep -vc ' from 10\.77\.2\.1$' || true)
  expect "censor's resolver saw only the direct path's $n_direct queries (saw $isp)" test "$isp" -eq "$n_direct"
  expect "truthful resolver saw the $n_control control queries from the control paths (saw $truthful)" \
    test "$truthful" -eq "$n_control"
fi

echo "== a destination that refuses, through both proxies"
probe_run refused --url https://chat.signal.org:8443/ --control socks5h://10.77.0.10:1080 --control http://10.77.0.11:8888
if [[ $code != 0 || -z "$report" ]]; then fail "probe run exited $code"; sed 's/^/    /' "$err"; else
  for p in direct control control-2; do
    check "$JQ_DEFS"'eps("'"$p"'") | select(.e.tcp.failure != "connection_refused") | show' "$p: tcp connection_refused"
  done
  check '.paths[1:][] | select(.health != "healthy") | "\(.name) \(.health)"' "both proxies stay healthy"
fi

echo "== a dead proxy"
probe_run dead --url https://chat.signal.org/ --control socks5h://10.77.0.10:1081 --control http://10.77.0.11:8889
if [[ $code != 0 || -z "$report" ]]; then fail "probe run exited $code"; sed 's/^/    /' "$err"; else
  check '.paths[1:][] | select(.health != "unhealthy" or .check_failure != "proxy_error" or .successes != 0) | tojson' \
    "dead proxies: unhealthy, check_failure proxy_error"
  for p in control control-2; do
    check "$JQ_DEFS"'eps("'"$p"'") | select(.e.tcp.failure != "proxy_error") | show' "$p: tcp proxy_error"
  done
  check '.results[].paths.control.queries[] | select(.failure != "proxy_error") | tojson' "control: DNS proxy_error"
  expect "the log says which path failed its check" grep -q "control path control (socks5h://10.77.0.10:1081) failed its start-up check" "$err"
fi

echo "== credentials never leave towards anything but the proxy"
user=probeuser pass='pa:ss w@rd%'
ip netns exec plab-net setsid microsocks -i 10.77.0.10 -p 1082 -u "$user" -P "$pass" </dev/null >"$tmp/ms-auth.log" 2>&1 &
extra_pid=$!
for _ in $(seq 1 100); do ip netns exec plab-net ss -Hlnt 'sport = :1082' | grep -q . && break; sleep 0.05; done
enc='pa%3Ass%20w%40rd%25'
b64=$(printf '%s:%s' "$user" "$pass" | base64 -w0)
secrets=("$pass" "$enc" "$b64" "$user" "$(printf '%s' "$pass" | base64 -w0)")
leaks() { # FILES...: prints each secret found
  local s f
  for s in "${secrets[@]}"; do
    for f in "$@"; do if grep -qF -- "$s" "$f" 2>/dev/null; then echo "'$s' in ${f##*/}"; fi; done
  done
  return 0
}
printf '%s:%s\n' "$user" "$pass" > "$tmp/auth"; chmod 600 "$tmp/auth"
declare -A ways=(
  [url]="--control socks5h://$user:$enc@10.77.0.10:1082"
  [file]="--control socks5h://10.77.0.10:1082 --control-auth-file $tmp/auth"
)
for way in url file env; do
  if [[ $way == env ]]; then
    PROBE_CONTROL_AUTH="$user:$pass" probe_run "cred-$way" -vv --url https://chat.signal.org/ --control socks5h://10.77.0.10:1082
  else
    # shellcheck disable=SC2086
    probe_run "cred-$way" -vv --url https://chat.signal.org/ ${ways[$way]}
  fi
  if [[ $code != 0 || -z "$report" ]]; then fail "credentials by $way: probe exited $code"; sed 's/^/    /' "$err"; continue; fi
  check '.paths[1] | select(.health != "healthy") | tojson' "credentials by $way: the authenticated proxy is healthy"
  found=$(leaks "$report" "$out" "$err")
  if [[ -z "$found" ]]; then ok "credentials by $way: in no report, stdout or stderr (-vv)"; else fail "credentials by $way leaked: $found"; fi
done
probe_run cred-wrong -vv --url https://chat.signal.org/ --control "socks5h://$user:wrong$enc@10.77.0.10:1082"
check '.paths[1] | select(.check_failure != "proxy_error") | tojson' "wrong password: check_failure proxy_error"
found=$(leaks "$report" "$out" "$err")
if [[ -z "$found" ]]; then ok "wrong password: credentials in no output"; else fail "wrong password leaked: $found"; fi
# Privacy at the most verbose level: the client's own addresses are in no report or output.
found=$(grep -lE '(^|[^0-9.])10\.77\.(1|3)\.2([^0-9]|\.[^0-9]|$)' "$tmp"/cred-*.out "$tmp"/cred-*.err \
  $(find "$tmp" -name '*.json') 2>/dev/null | head -3 || true)
if [[ -z "$found" ]]; then ok "no client address (10.77.1.2, 10.77.3.2) in any report or -vv output"; else
  fail "client addresses in: $found"; fi
kill "$extra_pid" 2>/dev/null; wait "$extra_pid" 2>/dev/null || true; extra_pid=""

echo "== an interface control that is the direct path's own interface"
probe_run same-iface --url https://chat.signal.org/ --control iface:eth0
expect "iface:eth0 refused with exit 78 (got $code)" test "$code" -eq 78
expect "the message says why" grep -q "the direct path leaves by this interface too" "$err"
expect "no report written" test -z "$report"

"$LAB" down >/dev/null 2>&1 || fail "scripts/lab down"
elapsed=$(since "$start")
if [[ $failures -eq 0 ]]; then echo "PASS: control paths, $elapsed s"; exit 0; fi
echo "FAIL: $failures checks failed, $elapsed s"; exit 1
