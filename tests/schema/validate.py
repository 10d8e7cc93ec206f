#!/usr/bin/python3
"""Validates probe reports against reports/schema.json with a real JSON Schema validator.

usage: validate.py SCHEMA [--expect-invalid | --explain] FILE...
Exits 0 when every file is valid (or, with --expect-invalid, when every file is rejected).
--explain prints, for each file, one line of JSON: {"file": ..., "errors": [{"path", "keyword"}]},
every error down to the innermost (the branches of anyOf/oneOf included), so a test can check
that a document was rejected by the rule it means to break and not by another.
"""
import json
import sys

import jsonschema


def leaves(error):
    """The innermost errors under `error`: for anyOf/oneOf, each branch's own errors."""
    if not error.context:
        yield error
    for sub in error.context:
        yield from leaves(sub)


def explain(validator, paths):
    for path in paths:
        with open(path, "rb") as handle:
            document = json.loads(handle.read().decode("utf-8"))
        errors = [{"path": "/".join(map(str, leaf.absolute_path)), "keyword": leaf.validator}
                  for error in validator.iter_errors(document) for leaf in leaves(error)]
        print(json.dumps({"file": path, "errors": errors}))
    return 0


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
    if rest and rest[0] == "--explain":
        return explain(validator, rest[1:])
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
