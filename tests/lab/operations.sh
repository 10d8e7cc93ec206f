#!/usr/bin/env bash
# Lab tests of unattended operation in a censored network (scenario `mixed`, a SOCKS5 control):
# - SIGTERM mid-run: exit 143, a valid report marked interrupted, at least one step (not only a
#   DNS query) recorded `interrupted`, every target with such a step inconclusive, and nothing
#   blocked but by DNS answers already in (blocking at any other layer needs a re-test, which the
#   stop cut short);
# - SIGKILL mid-run: the .jsonl log is left, and `probe recover` turns it into a valid report
#   marked interrupted holding every target of the run: those the log had finished with their
#   verdicts, the others unjudged with nothing measured;
# - and neither holds the client's own addresses.
#
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root, no namespaces, tool missing).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB=$ROOT/scripts/lab
PROBE=${PROBE:-$ROOT/build/probe}
STATE=/run/probe-lab

skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) == 0 ]] || skip "not root (the lab needs network namespaces and iptables)"
for t in ip iptables dnsmasq nginx microsocks tinyproxy turnserver openssl jq setsid flock ss python3; do
  command -v "$t" >/dev/null || skip "$t is not installed"
done
[[ -x "$PROBE" ]] || skip "no probe binary at $PROBE"
unshare --net true 2>/dev/null || skip "cannot create network namespaces here"

tmp=$(mktemp -d)
failures=0
cleanup() { "$LAB" down >/dev/null 2>&1 || true; rm -rf -- "$tmp"; }
trap cleanup EXIT

fail() { echo "  FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "  ok: $*"; }
check() { # JQ_FILTER DESCRIPTION: the filter prints one line per offending item
  local out
  out=$(jq -r "$1" "$report") || { fail "$2 (jq error)"; return; }
  if [[ -z "$out" ]]; then ok "$2"; else fail "$2:"; sed -n '1,20s/^/      /p' <<< "$out"; fi
}
expect() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
valid() { python3 "$ROOT/tests/schema/validate.py" "$ROOT/reports/schema.json" "$@" >/dev/null; }
no_client_address() { ! grep -qE '(^|[^0-9.])10\.77\.(1|3)\.2([^0-9]|\.[^0-9]|$)' "$@"; }

# start_run NAME: the probe in the background in the client namespace (twitter's dropped SYNs
# keep it busy for the 5 s timeout); waits until its log holds the header and 10 finished targets.
start_run() {
  local name=$1 k
  out=$tmp/$name
  mkdir -p "$out"
  "$LAB" exec "$PROBE" run --allow-bogon 10.77.0.0/16 --ca-file "$STATE/ca.pem" --timeout 5 \
    --control socks5h://10.77.0.10:1080 --control-resolver 10.77.0.53 --control-timeout 5 \
    --out "$out" >"$tmp/$name.log" 2>&1 &
  pid=$!
  for k in $(seq 1 200); do
    log=$(find "$out" -name '*.jsonl' | sed -n 1p)
    if [[ -n "$log" ]] && (( $(wc -l < "$log") >= 11 )); then return 0; fi
    sleep 0.05
  done
  fail "$name: no log with 10 finished targets within 10 s"; cat "$tmp/$name.log"
  return 1
}
# The probe's own pid (ip netns exec execs it, so it is the background job's pid).
signal_run() { kill "-$1" "$pid"; }

"$LAB" down >/dev/null 2>&1 || true
"$LAB" up mixed >"$tmp/up.log" 2>&1 || { cat "$tmp/up.log"; echo "FAIL: scripts/lab up mixed"; exit 1; }

echo "== SIGTERM mid-run"
if start_run term; then
  signal_run TERM
  code=0; wait "$pid" || code=$?
  expect "exit 143 (got $code)" test "$code" = 143
  report=$(find "$out" -name '*.json' | sed -n 1p)
  expect "a report was written" test -n "$report"
  expect "the log is gone (the report replaces it)" test -z "$(find "$out" -name '*.jsonl')"
  if [[ -n "$report" ]]; then
    expect "the report validates against the schema" valid "$report"
    check 'select(.interrupted != true) | "interrupted: \(.interrupted)"' "marked interrupted"
    check '[.results[].paths[].endpoints[]? | [.tcp, .tls, .http, .stun, .decoy_tls][] | select(. != null) |
        select(.failure == "interrupted")] | if length == 0 then "no step marked interrupted" else empty end' \
      "at least one step (tcp, tls, http or stun) marked interrupted"
    check '.results[] | select(([.. | objects | select(has("failure")) | .failure] | index("interrupted")) != null) |
        select(.verdict.status != "inconclusive" or .verdict.detail != "interrupted") |
        "\(.host) \(.kind): \(.verdict.status) \(.verdict.detail)"' \
      "every target with an interrupted step or query is inconclusive (interrupted)"
    # Facebook's NXDOMAIN needs no re-test, so those finished targets may be blocked (dns); a
    # blocked tcp_ip, tls or http needs a re-test, which the stop cut short.
    check '.results[] | select(.verdict.status == "blocked" and .verdict.method != "dns") |
        "\(.host) \(.kind): blocked \(.verdict.method)"' \
      "nothing blocked but by DNS answers already in (the re-tests never ran)"
    # (Which targets finish before the signal varies: only that some did, and kept a verdict.)
    check '[.results[] | select(([.. | objects | select(has("failure")) | .failure] | index("interrupted")) == null)] |
        if length == 0 then "no target finished before the signal"
        else .[] | select(.verdict.detail == "interrupted") | "\(.host) \(.kind): finished, yet judged interrupted" end' \
      "targets finished before the signal keep their verdicts"
    expect "no client address in the report or the output" no_client_address "$report" "$tmp/term.log"
  fi
fi

echo "== SIGKILL mid-run, then probe recover"
if start_run kill; then
  signal_run KILL
  wait "$pid" 2>/dev/null || true
  log=$(find "$out" -name '*.jsonl' | sed -n 1p)
  expect "the log is left" test -n "$log"
  expect "no report" test -z "$(find "$out" -name '*.json')"
  if [[ -n "$log" ]]; then
    finished=$(( $(grep -c . "$log") - 1 ))
    distinct=$(tail -n +2 "$log" | jq -s 'map(.index) | unique | length')
    total=$(head -1 "$log" | jq '.targets | length')
    code=0; "$PROBE" recover "$log" >"$tmp/recover.out" 2>"$tmp/recover.err" || code=$?
    expect "probe recover exits 0 (got $code)" test "$code" = 0
    report=${log%.jsonl}.json
    expect "the recovered report is where recover says" test "$(cat "$tmp/recover.out")" = "$report"
    if [[ -f "$report" ]]; then
      expect "the recovered report validates against the schema" valid "$report"
      check 'select(.interrupted != true) | "interrupted: \(.interrupted)"' "marked interrupted"
      check "select((.results | length) != $total) | \"\(.results | length) results, want $total\"" \
        "every target of the run ($total)"
      check "select(([.results[] | select(.verdict != null)] | length) != $distinct) | \"want $distinct verdicts\"" \
        "a verdict for every target the log finished ($distinct, in $finished lines)"
      check '.results[] | select(.verdict == null and .paths != {}) | .host' \
        "the targets it had not finished unjudged, with nothing measured"
      expect "no client address in the log or the recovered report" no_client_address "$report"
    fi
  fi
fi

if [[ $failures -eq 0 ]]; then echo "PASS"; exit 0; fi
echo "FAIL: $failures checks failed"; exit 1
