#!/usr/bin/env bash
# Lab test of DNS pacing: 1000 names at --concurrency 1000 against a resolver that forwards 150
# queries at once (the lab's ISP dnsmasq with a home router's default dns-forward-max) behind the
# kernel's default socket buffers, one try per query (no retry hides a loss). Paced (the default
# --resolver-inflight), every query must be answered and no target left inconclusive; the peer
# run, with the pacing window as wide as the burst, shows the same resolver dropping part of it, so
# the check can fail without the pacing.
#
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root, no namespaces, tool missing).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB=$ROOT/scripts/lab
PROBE=${PROBE:-$ROOT/build/probe}
N=1000
start=$(date +%s.%N)

skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) == 0 ]] || skip "not root (the lab needs network namespaces and iptables)"
for t in ip iptables dnsmasq nginx microsocks tinyproxy turnserver openssl jq setsid flock ss sysctl; do
  command -v "$t" >/dev/null || skip "$t is not installed"
done
[[ -x "$PROBE" ]] || skip "no probe binary at $PROBE"
unshare --net true 2>/dev/null || skip "cannot create network namespaces here"

tmp=$(mktemp -d)
failures=0
cleanup() { "$LAB" down >/dev/null 2>&1 || true; rm -rf -- "$tmp"; }
trap cleanup EXIT
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
fail() { echo "  FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "  ok: $*"; }

# The kernel's default receive buffer is what a volunteer's machine has; a bench or an earlier
# test that raised it would hide the loss this test is about.
rmem=$(sysctl -n net.core.rmem_default)
(( rmem <= 262144 )) || skip "net.core.rmem_default is raised to $rmem (the default is 212992)"

mkdir -p "$tmp/targets"
jq -n --argjson n "$N" '{app: "burst", reviewed: "2026-12-06",
  targets: [range(1; $n + 1) | {host: "n\(.).burst.test", kind: "dns",
    purpose: "DNS burst", sources: ["tests/lab/dns_burst.sh"]}]}' > "$tmp/targets/burst.json"
PLAB_TARGETS=$tmp/targets PLAB_ISP_FORWARD_MAX=150 "$LAB" up open >"$tmp/up.log" 2>&1 || {
  cat "$tmp/up.log"; echo "FAIL: lab up"; exit 1; }
eval "$("$LAB" env)"  # PLAB_SOCKS, PLAB_TRUE_DNS

# run NAME ARGS...: the probe over the direct path (its system resolver the ISP's dnsmasq) and a
# SOCKS5 control path (the lab's truthful resolver, over TCP through the proxy).
# Prints "answered failed" counts of the direct path's queries.
run() {
  local name=$1; shift
  local t0; t0=$(date +%s.%N)
  "$LAB" exec "$PROBE" run --targets "$tmp/targets" --allow-bogon 10.77.0.0/16 --timeout 2 --tries 1 \
    --concurrency 1000 --control "socks5h://$PLAB_SOCKS" --control-resolver "$PLAB_TRUE_DNS" --control-timeout 2 \
    --out "$tmp/$name" -q "$@" >"$tmp/$name.log" 2>&1 || {
    echo "  FAIL: $name: probe exited $?"; tail -5 "$tmp/$name.log"; return 1; }
  local report; report=$(find "$tmp/$name" -name '*.json' | sed -n 1p)
  jq -r '[.results[].verdict.status] | group_by(.) | map("\(.[0]) \(length)") | join(", ")' "$report" > "$tmp/$name.verdicts"
  jq -r '[.results[].paths.direct.queries[]] | "\(map(select(.rcode == "NOERROR")) | length) \(map(select(.failure == "generic_timeout_error")) | length) \(length)"' "$report"
  echo "  $name: $(since "$t0") s" >&2
}

read -r paced_answered paced_lost paced_total < <(run paced) || exit 1
echo "  paced (--resolver-inflight default): $paced_answered of $paced_total queries answered, $paced_lost timed out"
if (( paced_total == 2 * N && paced_answered == 2 * N )); then ok "paced: every query of $N names answered"
else fail "paced: $paced_answered of $((2 * N)) answered ($paced_total recorded)"; fi
echo "  paced verdicts: $(cat "$tmp/paced.verdicts")"
if [[ $(cat "$tmp/paced.verdicts") == "accessible $N" ]]; then ok "paced: every target accessible"
else fail "paced: not every target accessible"; fi

read -r wide_answered wide_lost wide_total < <(run unpaced --resolver-inflight 1000) || exit 1
echo "  unpaced (--resolver-inflight 1000): $wide_answered of $wide_total answered, $wide_lost timed out"
if (( wide_lost > 0 )); then ok "unpaced: the resolver dropped part of the burst ($wide_lost queries lost)"
else fail "unpaced: nothing lost, so this lab does not show what pacing prevents"; fi
echo "  unpaced verdicts: $(cat "$tmp/unpaced.verdicts")"

echo "dns burst: $(since "$start") s, $failures failure(s)"
(( failures == 0 ))
