#!/usr/bin/python3
"""Checks that every #include between folders under probe/ is allowed by ARCHITECTURE.md.

usage: check_layers.py SOURCE_DIR

ARCHITECTURE.md's table ("| `folder/` | rule | may use |") is the rule: a file in folder F may
include "G/..." only when G is F or is named in F's "may use" column ("everything above" allows
every folder listed before F). Prints each violation with file:line and exits 1 if there is any.
"""
import pathlib
import re
import sys


def allowed_uses(architecture):
    order, uses = [], {}
    for line in architecture.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not re.fullmatch(r"`[a-z]+/`", cells[0]):
            continue
        folder = cells[0].strip("`/")
        order.append(folder)
        if cells[2] == "everything above":
            uses[folder] = set(order[:-1])
        else:
            uses[folder] = set(re.findall(r"`([a-z]+)`", cells[2]))
    return order, uses


def main():
    root = pathlib.Path(sys.argv[1])
    order, uses = allowed_uses(root / "ARCHITECTURE.md")
    if not order:
        sys.exit("check_layers: no folder table in ARCHITECTURE.md")
    problems = []
    sources = root / "probe"
    folders = {path.name for path in sources.iterdir() if path.is_dir()}
    for missing in sorted(folders - set(order)):
        problems.append(f"probe/{missing}/ is not in ARCHITECTURE.md's table")
    for path in sorted(sources.rglob("*")):
        if path.suffix not in (".cpp", ".hpp", ".in") or path.parent == sources:
            continue
        folder = path.relative_to(sources).parts[0]
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            match = re.match(r'\s*#\s*include\s+"([a-z_]+)/', line)
            if match and match.group(1) != folder and match.group(1) not in uses.get(folder, set()):
                problems.append(f"{path.relative_to(root)}:{number}: {folder}/ may not include "
                                f"{match.group(1)}/ (ARCHITECTURE.md)")
    for problem in problems:
        print(problem)
    print(f"check_layers: {len(order)} folders, {len(problems)} violations")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
