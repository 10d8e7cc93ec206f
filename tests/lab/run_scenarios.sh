#!/usr/bin/env bash
# Lab tests: for each scenario, bring the lab up, run the probe with the shipped targets/ in
# the client namespace over the direct path, and check per host which step failed with which failure
# string; then bring the lab down and check that nothing is left. Finally, a crashed `up` (SIGKILL in
# the middle) must be cleaned by `down`.
#
#   tests/lab/run_scenarios.sh [SCENARIO...]      (default: every scenario of `scripts/lab list`)
#
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root, no network namespaces, tool missing).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB=$ROOT/scripts/lab
PROBE=${PROBE:-$ROOT/build/probe}
TARGETS=$ROOT/targets
STATE=/run/probe-lab
NS=(plab-client plab-censor plab-vpn plab-net)
start=$(date +%s.%N)

skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) == 0 ]] || skip "not root (the lab needs network namespaces and iptables)"
for t in ip iptables dnsmasq nginx microsocks tinyproxy turnserver openssl jq setsid flock ss; do
  command -v "$t" >/dev/null || skip "$t is not installed"
done
[[ -x "$PROBE" ]] || skip "no probe binary at $PROBE (make -C $ROOT/build probe)"
unshare --net true 2>/dev/null || skip "cannot create network namespaces here"
ip netns list >/dev/null 2>&1 || skip "ip netns does not work here"

tmp=$(mktemp -d)
failures=0
cleanup() { "$LAB" down >/dev/null 2>&1 || true; rm -rf -- "$tmp"; }
trap cleanup EXIT

since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
fail() { echo "  FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "  ok: $*"; }

# check JQ_FILTER DESCRIPTION: the filter prints one line per offending item (empty = pass)
check() {
  local out
  out=$(jq -r "$1" "$report") || { fail "$2 (jq error)"; return; }
  if [[ -z "$out" ]]; then ok "$2"; else fail "$2:"; echo "$out" | head -20 | sed 's/^/      /'; fi
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
  for f in /etc/netns/plab-client /etc/netns/plab-censor /etc/netns/plab-vpn /etc/netns/plab-net "$STATE"; do
    [[ -e "$f" ]] && left+=" file:$f"
  done
  if [[ -z "$left" ]]; then ok "down left nothing behind"; else fail "left behind after down:$left"; fi
}

# Common jq definitions: endpoints of the direct path, per app and kind.
JQ_DEFS='
def eps: .results[] | . as $r | .paths.direct.endpoints[]? | {app: $r.app, host: $r.host, kind: $r.kind, e: .};
def fails: [.. | objects | select(has("failure")) | .failure | select(. != null)];
def show: "\(.host) \(.kind) \(.e.address): \(.e | tojson)";
'

# Checks shared by every scenario: every target was measured; every A query of the system resolver
# answered with the lab address (these scenarios do not touch DNS); endpoints of the apps not blocked
# succeed at every step.
common_checks() { # BLOCKED_APP (or "")
  local blocked=$1 n_targets
  n_targets=$(jq -s '[.[].targets | length] | add' "$TARGETS"/*.json)
  check "if (.results | length) != $n_targets then \"\(.results | length) results, want $n_targets\" else empty end" \
    "one result per target ($n_targets)"
  check "$JQ_DEFS"'.results[] | .host as $h | [.paths.direct.queries[] | select(.type == "A")] as $q |
      if ($q | length) == 0 then "\($h): no A query"
      else $q[] | select(.failure != null or ([.answers[].value] | length) == 0) | "\($h): \(tojson)" end' \
    "every host's A query answered"
  local hostmap
  hostmap=$(awk -F'\t' '{printf "%s\"%s\":\"%s\"", (NR>1?",":""), $2, $3}' "$STATE/hosts.tsv")
  check ".results[] | . as \$r | ({$hostmap}[\$r.host]) as \$want |
      [.paths.direct.queries[] | select(.type == \"A\") | .answers[].value] as \$got |
      select(\$got != [\$want]) | \"\(\$r.host): got \(\$got), want \(\$want)\"" \
    "A answers are the lab addresses"
  check "$JQ_DEFS"'.results[] | select(.kind != "dns" and ((.paths.direct.endpoints // []) | length) == 0) | "\(.host) \(.kind): no endpoint"' \
    "every non-dns target has an endpoint"
  check "$JQ_DEFS"'eps | select(.app != "'"$blocked"'") | select((.e | fails | length) > 0) | show' \
    "apps not blocked: no step failed"
  check "$JQ_DEFS"'eps | select(.app != "'"$blocked"'" and (.kind == "https" or .kind == "http")) |
      select(.e.http == null or .e.http.status == null) | show' \
    "apps not blocked: every http(s) endpoint has an HTTP status"
  check "$JQ_DEFS"'eps | select(.app != "'"$blocked"'" and (.kind == "https" or .kind == "tls")) |
      select(.e.tls == null or .e.tls.failure != null) | show' \
    "apps not blocked: every TLS handshake done (tls.failure == null)"
}

expect_open() { common_checks ""; }

expect_ip_blackhole() {
  common_checks twitter
  check "$JQ_DEFS"'[eps | select(.app == "twitter")] | if length == 0 then "no twitter endpoints" else empty end' \
    "twitter endpoints measured"
  check "$JQ_DEFS"'eps | select(.app == "twitter") | select(.e.tcp == null or .e.tcp.failure != "generic_timeout_error") | show' \
    "twitter: tcp.failure == generic_timeout_error"
  check "$JQ_DEFS"'eps | select(.app == "twitter") | select(.e.tls != null and .e.tls.failure == null) | show' \
    "twitter: no TLS success after a failed connect"
}

expect_sni_reset() {
  common_checks signal
  check "$JQ_DEFS"'[eps | select(.app == "signal")] | if length == 0 then "no signal endpoints" else empty end' \
    "signal endpoints measured"
  check "$JQ_DEFS"'eps | select(.app == "signal") | select(.e.tcp == null or .e.tcp.failure != null) | show' \
    "signal: tcp ok (tcp.failure == null)"
  check "$JQ_DEFS"'eps | select(.app == "signal" and (.kind == "https" or .kind == "tls")) |
      select(.e.tls == null or .e.tls.failure != "connection_reset") | show' \
    "signal: tls.failure == connection_reset"
  check "$JQ_DEFS"'eps | select(.app == "signal" and .kind == "https") | select(.e.http != null and .e.http.status != null) | show' \
    "signal: no HTTP status after the reset"
}

run_scenario() {
  local sc=$1 t0 pids
  echo "== scenario $sc"
  t0=$(date +%s.%N)
  if ! "$LAB" up "$sc" >"$tmp/up-$sc.log" 2>&1; then
    fail "scripts/lab up $sc"; sed 's/^/      /' "$tmp/up-$sc.log"; "$LAB" down >/dev/null 2>&1 || true; return
  fi
  mkdir -p "$tmp/out-$sc"
  if ! "$LAB" exec "$PROBE" run --targets "$TARGETS" --allow-bogon 10.77.0.0/16 --ca-file "$STATE/ca.pem" \
       --timeout 2 --out "$tmp/out-$sc" >"$tmp/probe-$sc.log" 2>&1; then
    fail "probe run exited non-zero"; sed 's/^/      /' "$tmp/probe-$sc.log"
  else
    report=$(find "$tmp/out-$sc" -name '*.json' | head -1)
    if [[ -z "$report" ]]; then fail "no report written"; else
      ok "probe: $(grep -m1 ' targets, ' "$tmp/probe-$sc.log" | sed 's/^probe: info: //')"
      "expect_${sc//-/_}"
    fi
  fi
  mapfile -t pids < <(snapshot_pids)
  "$LAB" down >/dev/null 2>&1 || fail "scripts/lab down"
  check_clean "${pids[@]}"
  echo "  time: $(since "$t0") s"
}

crashed_up() {
  echo "== down after a crashed up"
  local stage pids
  for stage in topology servers; do
    ( PLAB_CRASH_AT=$stage "$LAB" up open >/dev/null 2>&1 ) 2>/dev/null && { fail "simulated crash at $stage did not crash"; continue; }
    mapfile -t pids < <(snapshot_pids)
    [[ ${#pids[@]} -gt 0 || $stage == topology ]] || fail "crash at $stage: no processes to clean (the hook did not run?)"
    "$LAB" down >/dev/null 2>&1 || fail "down after a crash at $stage"
    echo "  crash at $stage (${#pids[@]} processes running):"
    check_clean "${pids[@]}"
  done
  "$LAB" down >/dev/null 2>&1 && ok "down when nothing is up" || fail "down when nothing is up"
}

"$LAB" down >/dev/null 2>&1 || true
if [[ $# -gt 0 ]]; then scenarios=("$@"); else mapfile -t scenarios < <("$LAB" list | awk '{print $1}'); fi
for sc in "${scenarios[@]}"; do
  declare -F "expect_${sc//-/_}" >/dev/null || { fail "scenario $sc has no expectations in this test"; continue; }
  run_scenario "$sc"
done
crashed_up

elapsed=$(since "$start")
if [[ $failures -eq 0 ]]; then echo "PASS: ${#scenarios[@]} scenarios, $elapsed s"; exit 0; fi
echo "FAIL: $failures checks failed, $elapsed s"; exit 1
