#!/usr/bin/python3
"""Checks that a ctest run ran every test, and says what it skipped and why.

usage: ctest_census.py BUILD_DIR JUNIT_XML [--filtered] [--no-skips]

- Every Catch test case of BUILD_DIR/tests/probe_tests has exactly one ctest entry (label `unit`)
  that carries its whole name, and no such entry names anything else (CMake splits a name at ';',
  and Catch given a fragment runs nothing).
- Unless --filtered (ctest was given -R, -L, ...), every ctest entry has a result in JUNIT_XML.
- Skipped entries (ctest's SKIP_RETURN_CODE) are listed with the reason their output gave
  ("SKIP: ..." lines); with --no-skips (scripts/test under CI=true) any skip is a failure.
Prints one census line: Catch cases, ctest entries, passed, failed, skipped. Exits 1 on a mismatch.
"""
import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree


def catch_cases(build_dir):
    listing = subprocess.run([f"{build_dir}/tests/probe_tests", "--list-test-names-only"],
                             capture_output=True, text=True, check=False)
    # Catch v2 exits with the number of test cases listed: only the output says whether it worked.
    names = [line for line in listing.stdout.splitlines() if line.strip()]
    if not names:
        sys.exit(f"ctest_census: probe_tests listed no test cases: {listing.stderr.strip()}")
    return names


def ctest_entries(build_dir):
    shown = subprocess.run(["ctest", "--test-dir", build_dir, "--show-only=json-v1"],
                           capture_output=True, text=True, check=True)
    entries = []
    for test in json.loads(shown.stdout)["tests"]:
        labels = []
        for prop in test.get("properties", []):
            if prop["name"] == "LABELS":
                labels = prop["value"]
        entries.append((test["name"], labels))
    return entries


def results(junit_path):
    out = {}
    for case in ElementTree.parse(junit_path).getroot().iter("testcase"):
        output = case.findtext("system-out") or ""
        reasons = [line[len("SKIP: "):] for line in output.splitlines() if line.startswith("SKIP: ")]
        skipped = case.find("skipped")
        if not reasons and skipped is not None:
            reasons = [skipped.get("message", "no reason given")]
        out[case.get("name")] = (case.get("status"), reasons)
    return out


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    build_dir, junit_path, flags = argv[1], argv[2], set(argv[3:])
    problems = []

    cases = catch_cases(build_dir)
    entries = ctest_entries(build_dir)
    unit = [name for name, labels in entries if "unit" in labels]
    for name in sorted(set(unit) - set(cases)):
        problems.append(f"ctest entry names no Catch test case (a name ctest split?): {name!r}")
    for name in sorted(set(cases) - set(unit)):
        problems.append(f"Catch test case has no ctest entry of its own: {name!r}")

    ran = results(junit_path)
    if "--filtered" not in flags:
        for name, _ in entries:
            if name not in ran:
                problems.append(f"ctest entry did not run: {name!r}")
    passed = sum(1 for status, _ in ran.values() if status == "run")
    failed = sum(1 for status, _ in ran.values() if status == "fail")
    skipped = {name: reasons for name, (status, reasons) in ran.items() if status == "notrun"}

    print(f"census: {len(cases)} Catch test cases, {len(entries)} ctest entries ({len(unit)} unit, "
          f"{len(entries) - len(unit)} other); ran {len(ran)}: {passed} passed, {failed} failed, "
          f"{len(skipped)} skipped")
    for name, reasons in sorted(skipped.items()):
        print(f"  skipped: {name}: {'; '.join(reasons)}")
    if skipped and "--no-skips" in flags:
        problems.append(f"{len(skipped)} tests skipped where everything must run (CI)")
    for problem in problems:
        print(f"census: FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
