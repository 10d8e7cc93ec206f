#!/usr/bin/python3
"""Validates probe reports against reports/schema.json with a real JSON Schema validator.

usage: validate.py SCHEMA [--expect-invalid] FILE...
Exits 0 when every file is valid (or, with --expect-invalid, when every file is rejected).
"""
import json
import sys

import jsonschema


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    schema_path, rest = argv[1], argv[2:]
    expect_invalid = False
    if rest and rest[0] == "--expect-invalid":
        expect_invalid, rest = True, rest[1:]
    with open(schema_path, encoding="utf-8") as handle:
        schema = json.load(handle)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    status = 0
    for path in rest:
        with open(path, "rb") as handle:
            raw = handle.read()
        try:
            document = json.loads(raw.decode("utf-8"))  # strict: invalid UTF-8 is an error too
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            errors = [f"not JSON: {error}"]
        else:
            errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                      for e in validator.iter_errors(document)]
        if expect_invalid and not errors:
            print(f"{path}: accepted, but it should have been rejected", file=sys.stderr)
            status = 1
        elif not expect_invalid and errors:
            print(f"{path}: invalid:", *errors[:5], sep="\n  ", file=sys.stderr)
            status = 1
        else:
            print(f"{path}: {'rejected as expected: ' + errors[0] if errors else 'valid'}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
