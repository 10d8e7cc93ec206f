#!/usr/bin/env bash
# The lab's verdict checks must be able to fail, and fail for the right reason: run the `open`
# scenario with a deliberately wrong expectation (every target "blocked/dns", where the lab serves
# them all) and pass only when run_scenarios.sh failed, every check that failed is that verdict
# check, and it names targets whose verdict was accessible/null where blocked/dns was wanted. An
# exit 1 for any other reason (a lab that did not come up, a probe that crashed) fails this test.
#
# Exit: 0 the checks failed as they should, 1 they did not, 77 skipped (as run_scenarios.sh).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$(mktemp)
trap 'rm -f -- "$out"' EXIT
bash "$ROOT/tests/lab/run_scenarios.sh" --expect-wrong open >"$out" 2>&1
code=$?
fail() { echo "FAIL: $*"; echo "--- run_scenarios.sh --expect-wrong open (exit $code), its last lines:"; tail -40 "$out"; exit 1; }
[[ $code -eq 77 ]] && { grep '^SKIP: ' "$out"; exit 77; }
[[ $code -eq 1 ]] || fail "exit $code, want 1"
# The summary after "FAIL: N checks failed": one "  scenario/control: check" line per failure.
mapfile -t failed < <(sed -n '/^FAIL: [0-9]* checks failed/,$p' "$out" | tail -n +2)
[[ ${#failed[@]} -gt 0 ]] || fail "no list of failed checks"
for line in "${failed[@]}"; do
  [[ "$line" == *"open/"*": verdicts over "*": all blocked dns (deliberately wrong)"* ]] \
    || fail "a check other than the deliberately wrong one failed: $line"
done
wrong=$(grep -cE '^ +[^ ]+ [a-z]+: verdict accessible/null, want blocked/dns' "$out" || true)
[[ $wrong -gt 0 ]] || fail "no target reported with verdict accessible/null where blocked/dns was wanted"
echo "ok: ${#failed[@]} verdict checks failed as they should, on $wrong targets (accessible/null, want blocked/dns)"
exit 0
