#!/usr/bin/python3
"""Checks `probe export --format ooni` output: OONI measurements, one JSON object per line.

usage: ooni_check.py [--quiet] FILE.jsonl...      (`-` reads standard input)

Every line is checked against the rules below, each a small function with an ID. Prints one line
per rule, `ID description: N checked, V violations` (and, unless --quiet, the rule's first 5
violations as `file:line: where: why`), then `ooni_check: L lines, R rules, V violations`.
Exits 0 when there is no violation, 1 when there is one, 2 when an input cannot be read as JSONL
(a file that cannot be opened, invalid UTF-8, a line that is not JSON or not a JSON object, a
duplicate key, NaN/Infinity, or no measurement at all in any input). The checker reads files
only: it opens no connection and needs nothing beyond Python's standard library.

Where the rules come from:
- ooni/spec data-formats/df-000-base.md (the base keys of every measurement): B1-B16, I1.
  `measurement_uid` is not a client key: the collector adds it when it stores a measurement (B16).
- ooni/backend's collector (probe services: the report id it hands out and checks on submission,
  `YYYYMMDDThhmmssZ_testname_CC_ASN_nN_random`): R1-R4.
- ooni/spec nettests ts-017-urlgetter / ts-025-stun-reachability (inputs, test keys): I1, I2, K1-K4.
- df-002-dnst (queries[]): Q1, Q2. df-005-tcpconnect (tcp_connect[]): T1, T2.
  df-006-tlshandshake (tls_handshakes[]): S1-S4. df-001-httpt (requests[]): H1-H5.
  df-007-errors (failure strings): F1. df-000/df-00x timing (t0, t, test_runtime): C1, C2.
- ooni/data's observation builder, which joins a measurement's events by transaction_id (one
  web observation per connection): J1-J10. The join is applied to test_keys' own arrays and,
  separately, to each `x_control_paths` entry's arrays (the paths other than the direct one).

The per-entry rules (Q, T, S, H, F, C) apply to test_keys' arrays and to every control path's.
A rule examines only what it can read: a value of the wrong type is the shape rule's violation
(B*, Q1, T1, S1, H1, H2, K3), and the other rules skip it, so one mistake is one violation.
"""
import base64
import binascii
import datetime
import ipaddress
import json
import math
import re
import sys
from collections import namedtuple

Rule = namedtuple("Rule", "id description check")
RULES = []

TEST_NAMES = ("urlgetter", "stunreachability")
FAILURES = frozenset((
    "generic_timeout_error", "connection_refused", "connection_reset", "host_unreachable",
    "network_unreachable", "eof_error", "dns_nxdomain_error", "dns_no_answer", "dns_servfail_error",
    "dns_refused_error", "dns_bogon_error", "ssl_invalid_hostname", "ssl_unknown_authority",
    "ssl_invalid_certificate", "ssl_failed_handshake", "proxy_error", "interrupted"))
TEST_KEYS_ALLOWED = {
    "urlgetter": {"agent", "failure", "queries", "tcp_connect", "tls_handshakes", "requests",
                  "network_events", "socksproxy"},
    "stunreachability": {"endpoint", "failure", "queries", "network_events"},
}
# The arrays test_keys must hold (as lists) for each test name; other arrays may be absent.
TEST_KEYS_REQUIRED_ARRAYS = {
    "urlgetter": ("queries", "tcp_connect", "tls_handshakes", "requests"),
    "stunreachability": (),
}
EVENT_ARRAYS = ("queries", "tcp_connect", "tls_handshakes", "requests")
CONTROL_PATH_KEYS = frozenset(EVENT_ARRAYS)
REPORT_ID = re.compile(r"(\d{8}T\d{6}Z)_([a-z]+)_([A-Z]{2})_(\d+)_n(\d+)_([A-Za-z0-9]+)")
ASN = re.compile(r"AS(0|[1-9][0-9]*)")
CC = re.compile(r"[A-Z]{2}")
OONI_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
CIPHER = re.compile(r"TLS_[A-Z0-9_]+")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
HOST = re.compile(r"[^\s:/\[\]@?#]+")
PORT = r"(0|[1-9][0-9]{0,4})"
HOST_PORT = re.compile(r"(?:\[([^\[\]\s]+)\]|([^\s:/\[\]@?#]+)):" + PORT)


# ---- helpers -------------------------------------------------------------------------------

def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def is_num(value):
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def is_str(value):
    return isinstance(value, str)


def null_or_str(value):
    return value is None or isinstance(value, str)


def is_ip(text, version=None):
    if not isinstance(text, str):
        return False
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return version is None or address.version == version


def split_host_port(text):
    """(host, port) of `HOST:PORT` or `[IPv6]:PORT`; None when it is not one."""
    if not isinstance(text, str):
        return None
    match = HOST_PORT.fullmatch(text)
    if not match:
        return None
    bracketed, plain, port = match.groups()
    if bracketed is not None and not is_ip(bracketed, 6):
        return None
    if int(port) < 1 or int(port) > 65535:
        return None
    return (bracketed if bracketed is not None else plain), int(port)


def address_of(ip, port):
    """How df-006 writes an endpoint: `IP:PORT`, `[IPv6]:PORT`."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def parse_input(test_name, text):
    """(scheme, host, port or None) of a well-formed input for `test_name`; None otherwise."""
    if not isinstance(text, str) or test_name not in TEST_NAMES:
        return None
    scheme, sep, rest = text.partition("://")
    if not sep:
        return None
    if test_name == "stunreachability":
        if scheme != "stun":
            return None
        parsed = split_host_port(rest)
        return ("stun",) + parsed if parsed else None
    if scheme in ("http", "https"):
        authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
        if "@" in authority or any(c.isspace() for c in text):
            return None
        parsed = split_host_port(authority)
        if parsed:
            return (scheme,) + parsed
        if authority.startswith("["):
            host = authority[1:-1] if authority.endswith("]") else ""
            return (scheme, host, None) if is_ip(host, 6) else None
        return (scheme, authority, None) if HOST.fullmatch(authority) else None
    if scheme in ("tlshandshake", "tcpconnect"):
        parsed = split_host_port(rest)
        return (scheme,) + parsed if parsed else None
    if scheme == "dnslookup":
        return ("dnslookup", rest, None) if HOST.fullmatch(rest) else None
    return None


def test_keys(m):
    keys = m.get("test_keys")
    return keys if isinstance(keys, dict) else None


def event_sets(m):
    """(where, arrays) for test_keys and for each control path: the sets the join is made in."""
    keys = test_keys(m)
    if keys is None:
        return
    yield "test_keys", keys
    paths = keys.get("x_control_paths")
    if isinstance(paths, dict):
        for name, arrays in paths.items():
            if isinstance(arrays, dict):
                yield f"test_keys.x_control_paths.{name}", arrays


def entries_of(arrays, kind):
    values = arrays.get(kind)
    if not isinstance(values, list):
        return []
    return [(index, entry) for index, entry in enumerate(values) if isinstance(entry, dict)]


def entries(m, kind):
    """(where, entry) of every object in a `kind` array, test_keys' and the control paths'."""
    for where, arrays in event_sets(m):
        for index, entry in entries_of(arrays, kind):
            yield f"{where}.{kind}[{index}]", entry


def events(m):
    """(where, entry) of every event that has t0/t: the four arrays and network_events."""
    for kind in EVENT_ARRAYS + ("network_events",):
        yield from entries(m, kind)


def field_problems(entry, spec):
    """Problems of `entry` against {key: (test, what)}: a missing key or a value failing test."""
    problems = []
    for key, (test, what) in spec.items():
        if key not in entry:
            problems.append(f"no {key}")
        elif not test(entry[key]):
            problems.append(f"{key} is {json.dumps(entry[key])[:60]}, not {what}")
    return problems


def headers_list_ok(value):
    return isinstance(value, list) and all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)
        for pair in value)


def headers_ok(value):
    return isinstance(value, dict) and all(isinstance(x, str) for x in value.values())


def tags_of(handshake):
    tags = handshake.get("tags")
    return tags if isinstance(tags, list) else []


def is_decoy(handshake):
    return "decoy_sni" in tags_of(handshake)


def rule(rule_id, description):
    """Registers a check: a generator yielding (where, None) when a thing passes and
    (where, why) when it violates the rule; each yield counts as one thing checked."""
    def register(check):
        RULES.append(Rule(rule_id, description, check))
        return check
    return register


# ---- base keys (df-000) --------------------------------------------------------------------

@rule("B1", "annotations is an object of strings with non-empty architecture, platform, "
            "engine_name, engine_version")
def check_annotations(m):
    value = m.get("annotations")
    if not isinstance(value, dict):
        yield "annotations", "missing or not an object"
        return
    problems = [f"{key} is not a string" for key, v in value.items() if not isinstance(v, str)]
    problems += [f"no {key}" for key in ("architecture", "platform", "engine_name", "engine_version")
                 if not (isinstance(value.get(key), str) and value.get(key))]
    yield "annotations", "; ".join(problems) or None


def top_key(key, test, what):
    def check(m):
        if key not in m:
            yield key, "missing"
        else:
            yield key, None if test(m[key]) else f"{json.dumps(m[key])[:60]} is not {what}"
    return check


def ooni_time_ok(value):
    if not isinstance(value, str) or not OONI_TIME.fullmatch(value):
        return False
    try:
        datetime.datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return False
    return True


rule("B2", "data_format_version is \"0.2.0\"")(
    top_key("data_format_version", lambda v: v == "0.2.0", "\"0.2.0\""))
rule("B3", "extensions is an object of integers")(
    top_key("extensions", lambda v: isinstance(v, dict) and all(is_int(x) for x in v.values()),
            "an object of integers"))
rule("B4", "input is a string")(top_key("input", is_str, "a string"))


@rule("B5", "measurement_start_time and test_start_time are YYYY-MM-DD hh:mm:ss")
def check_times(m):
    for key in ("measurement_start_time", "test_start_time"):
        if key not in m:
            yield key, "missing"
        else:
            yield key, None if ooni_time_ok(m[key]) else f"{json.dumps(m[key])[:60]} is not a UTC time"


rule("B6", "probe_asn matches ^AS(0|[1-9][0-9]*)$")(
    top_key("probe_asn", lambda v: is_str(v) and ASN.fullmatch(v), "AS<number>"))
rule("B7", "probe_cc matches ^[A-Z]{2}$")(
    top_key("probe_cc", lambda v: is_str(v) and CC.fullmatch(v), "two capital letters"))
rule("B8", "probe_ip is \"127.0.0.1\" (the address is never published)")(
    top_key("probe_ip", lambda v: v == "127.0.0.1", "\"127.0.0.1\""))
rule("B9", "resolver_ip is a string")(top_key("resolver_ip", is_str, "a string"))


@rule("B10", "software_name and software_version are non-empty strings")
def check_software(m):
    for key in ("software_name", "software_version"):
        value = m.get(key)
        yield key, None if isinstance(value, str) and value else f"{json.dumps(value)} is not a non-empty string"


rule("B11", "test_helpers is an object")(top_key("test_helpers", lambda v: isinstance(v, dict), "an object"))
rule("B12", "test_keys is an object")(top_key("test_keys", lambda v: isinstance(v, dict), "an object"))
rule("B13", "test_name is urlgetter or stunreachability")(
    top_key("test_name", lambda v: v in TEST_NAMES, "urlgetter or stunreachability"))
rule("B14", "test_runtime is a number >= 0")(
    top_key("test_runtime", lambda v: is_num(v) and v >= 0, "a number >= 0"))
rule("B15", "test_version is a string")(top_key("test_version", is_str, "a string"))


@rule("B16", "no measurement_uid (the collector's key, never a client's)")
def check_no_uid(m):
    yield "measurement_uid", "present" if "measurement_uid" in m else None


# ---- report_id (ooni/backend's collector) --------------------------------------------------

def report_id_fields(m):
    value = m.get("report_id")
    match = REPORT_ID.fullmatch(value) if isinstance(value, str) else None
    return match.groups() if match else None


@rule("R1", "report_id is TIMESTAMP_testname_CC_ASN_nN_RANDOM with a valid UTC timestamp")
def check_report_id(m):
    fields = report_id_fields(m)
    if fields is None:
        yield "report_id", f"{json.dumps(m.get('report_id'))[:80]} is not in the collector's form"
        return
    try:
        datetime.datetime.strptime(fields[0], "%Y%m%dT%H%M%SZ")
    except ValueError:
        yield "report_id", f"{fields[0]} is not a valid UTC timestamp"
        return
    yield "report_id", None


@rule("R2", "report_id's test name is test_name without underscores")
def check_report_id_name(m):
    fields = report_id_fields(m)
    if fields and m.get("test_name") in TEST_NAMES:
        expected = m["test_name"].replace("_", "")
        yield "report_id", None if fields[1] == expected else f"test name {fields[1]}, not {expected}"


@rule("R3", "report_id's country is probe_cc")
def check_report_id_cc(m):
    fields, cc = report_id_fields(m), m.get("probe_cc")
    if fields and is_str(cc) and CC.fullmatch(cc):
        yield "report_id", None if fields[2] == cc else f"country {fields[2]}, not {cc}"


@rule("R4", "report_id's network is probe_asn's number")
def check_report_id_asn(m):
    fields, asn = report_id_fields(m), m.get("probe_asn")
    if fields and is_str(asn) and ASN.fullmatch(asn):
        yield "report_id", None if fields[3] == asn[2:] else f"network {fields[3]}, not {asn[2:]}"


# ---- input and test keys (ts-017 urlgetter, ts-025 stunreachability) -----------------------

@rule("I1", "input is the test's form: http(s)://, tlshandshake://HOST:PORT, tcpconnect://HOST:PORT, "
            "dnslookup://HOST (urlgetter); stun://HOST:PORT (stunreachability)")
def check_input(m):
    name, value = m.get("test_name"), m.get("input")
    if name in TEST_NAMES and is_str(value):
        yield "input", None if parse_input(name, value) else f"{json.dumps(value)[:80]} is not a {name} input"


@rule("I2", "stunreachability's test_keys.endpoint is the input's HOST:PORT")
def check_stun_endpoint(m):
    keys = test_keys(m)
    if m.get("test_name") != "stunreachability" or keys is None:
        return
    value = m.get("input")
    if not parse_input("stunreachability", value):
        return  # I1's violation
    expected = value[len("stun://"):]
    endpoint = keys.get("endpoint")
    yield "test_keys.endpoint", None if endpoint == expected else f"{json.dumps(endpoint)}, not \"{expected}\""


@rule("K1", "test_keys holds only the test's keys and x_-prefixed ones")
def check_test_keys_names(m):
    keys, name = test_keys(m), m.get("test_name")
    if keys is None or name not in TEST_NAMES:
        return
    for key in keys:
        allowed = key in TEST_KEYS_ALLOWED[name] or key.startswith("x_")
        yield f"test_keys.{key}", None if allowed else f"not a {name} key"


@rule("K2", "x_control_paths is an object of paths, each an object of queries, tcp_connect, "
            "tls_handshakes and requests (all four lists)")
def check_control_paths(m):
    keys = test_keys(m)
    if keys is None or "x_control_paths" not in keys:
        return
    paths = keys["x_control_paths"]
    if not isinstance(paths, dict):
        yield "test_keys.x_control_paths", "not an object"
        return
    for name, arrays in paths.items():
        where = f"test_keys.x_control_paths.{name}"
        if not isinstance(arrays, dict):
            yield where, "not an object"
            continue
        problems = [f"unexpected key {key}" for key in arrays
                    if key not in CONTROL_PATH_KEYS and not key.startswith("x_")]
        problems += [f"{kind} is missing or not a list" for kind in EVENT_ARRAYS
                     if not isinstance(arrays.get(kind), list)]
        yield where, "; ".join(problems) or None


@rule("K3", "event arrays are lists of objects (urlgetter: queries, tcp_connect, tls_handshakes, "
            "requests present)")
def check_arrays(m):
    keys, name = test_keys(m), m.get("test_name")
    if keys is None:
        return
    required = TEST_KEYS_REQUIRED_ARRAYS.get(name, ())
    for where, arrays in event_sets(m):
        top = where == "test_keys"
        for kind in EVENT_ARRAYS + (("network_events",) if top else ()):
            if kind not in arrays:
                if top and kind in required:
                    yield f"{where}.{kind}", "missing"
                continue
            values = arrays[kind]
            if not top and not isinstance(values, list):
                continue  # K2's violation
            if not isinstance(values, list):
                yield f"{where}.{kind}", f"{json.dumps(values)[:40]} is not a list"
                continue
            bad = [str(i) for i, entry in enumerate(values) if not isinstance(entry, dict)]
            yield f"{where}.{kind}", f"entries {', '.join(bad)} are not objects" if bad else None


@rule("K4", "test_keys.failure is null or a string (stunreachability: present)")
def check_test_keys_failure(m):
    keys = test_keys(m)
    if keys is None:
        return
    if "failure" not in keys:
        if m.get("test_name") == "stunreachability":
            yield "test_keys.failure", "missing"
        return
    value = keys["failure"]
    yield "test_keys.failure", None if null_or_str(value) else f"{json.dumps(value)[:40]} is not null or a string"


# ---- queries (df-002) ----------------------------------------------------------------------

QUERY_FIELDS = {
    "engine": (is_str, "a string"), "resolver_address": (is_str, "a string"),
    "hostname": (is_str, "a string"), "query_type": (is_str, "a string"),
    "answers": (lambda v: isinstance(v, list) and all(isinstance(a, dict) for a in v), "a list of objects"),
    "failure": (null_or_str, "null or a string"), "t0": (is_num, "a number"), "t": (is_num, "a number"),
    "transaction_id": (is_int, "an integer"),
}


@rule("Q1", "a query has engine, resolver_address, hostname, query_type, answers, failure, t0, t, "
            "transaction_id of df-002's types")
def check_query_shape(m):
    for where, query in entries(m, "queries"):
        yield where, "; ".join(field_problems(query, QUERY_FIELDS)) or None


def answer_problem(answer):
    kind = answer.get("answer_type")
    if not is_str(kind):
        return "no answer_type"
    if kind == "A" and not is_ip(answer.get("ipv4"), 4):
        return f"A answer's ipv4 {json.dumps(answer.get('ipv4'))} is not an IPv4 address"
    if kind == "AAAA" and not is_ip(answer.get("ipv6"), 6):
        return f"AAAA answer's ipv6 {json.dumps(answer.get('ipv6'))} is not an IPv6 address"
    if kind == "CNAME" and not (is_str(answer.get("hostname")) and answer.get("hostname")):
        return f"CNAME answer's hostname {json.dumps(answer.get('hostname'))} is not a name"
    if "ttl" not in answer or not (answer["ttl"] is None or (is_int(answer["ttl"]) and answer["ttl"] >= 0)):
        return f"ttl {json.dumps(answer.get('ttl'))} is not a count of seconds"
    return None


@rule("Q2", "an answer has answer_type, ipv4 (A) / ipv6 (AAAA) / hostname (CNAME) and ttl")
def check_answers(m):
    for where, query in entries(m, "queries"):
        answers = query.get("answers")
        if isinstance(answers, list):
            for index, answer in enumerate(answers):
                if isinstance(answer, dict):
                    yield f"{where}.answers[{index}]", answer_problem(answer)


# ---- tcp_connect (df-005) ------------------------------------------------------------------

def status_ok(value):
    return (isinstance(value, dict) and isinstance(value.get("success"), bool)
            and "failure" in value and null_or_str(value["failure"]))


TCP_FIELDS = {
    "ip": (lambda v: is_ip(v), "an IP address"),
    "port": (lambda v: is_int(v) and 0 < v < 65536, "a port"),
    "status": (status_ok, "{success: bool, failure: null or string}"),
    "t0": (is_num, "a number"), "t": (is_num, "a number"), "transaction_id": (is_int, "an integer"),
}


@rule("T1", "a tcp_connect has ip, port, status {success, failure}, t0, t, transaction_id")
def check_tcp_shape(m):
    for where, connect in entries(m, "tcp_connect"):
        yield where, "; ".join(field_problems(connect, TCP_FIELDS)) or None


@rule("T2", "a tcp_connect's status.success is true exactly when status.failure is null")
def check_tcp_status(m):
    for where, connect in entries(m, "tcp_connect"):
        status = connect.get("status")
        if status_ok(status):
            agree = status["success"] == (status["failure"] is None)
            yield f"{where}.status", None if agree else (
                f"success {json.dumps(status['success'])} with failure {json.dumps(status['failure'])}")


# ---- tls_handshakes (df-006) ---------------------------------------------------------------

TLS_FIELDS = {
    "address": (is_str, "a string"), "server_name": (is_str, "a string"),
    "cipher_suite": (is_str, "a string"), "negotiated_protocol": (is_str, "a string"),
    "tls_version": (is_str, "a string"),
    "peer_certificates": (lambda v: isinstance(v, list) and all(isinstance(c, dict) for c in v),
                          "a list of objects"),
    "failure": (null_or_str, "null or a string"), "t0": (is_num, "a number"), "t": (is_num, "a number"),
    "no_tls_verify": (lambda v: isinstance(v, bool), "a boolean"),
    "tags": (lambda v: isinstance(v, list) and all(is_str(t) for t in v), "a list of strings"),
    "transaction_id": (is_int, "an integer"),
}


@rule("S1", "a tls_handshake has address, server_name, cipher_suite, negotiated_protocol, tls_version, "
            "peer_certificates, failure, t0, t, no_tls_verify, tags, transaction_id")
def check_tls_shape(m):
    for where, handshake in entries(m, "tls_handshakes"):
        yield where, "; ".join(field_problems(handshake, TLS_FIELDS)) or None


def address_ok(text):
    parsed = split_host_port(text)
    return parsed is not None and is_ip(parsed[0]) and address_of(*parsed) == text


@rule("S2", "a tls_handshake's address is IP:PORT ([IPv6]:PORT)")
def check_tls_address(m):
    for where, handshake in entries(m, "tls_handshakes"):
        value = handshake.get("address")
        if is_str(value):
            yield f"{where}.address", None if address_ok(value) else f"{json.dumps(value)} is not IP:PORT"


@rule("S3", "a tls_handshake's cipher_suite is \"\" or IANA's name (TLS_...), never OpenSSL's")
def check_cipher(m):
    for where, handshake in entries(m, "tls_handshakes"):
        value = handshake.get("cipher_suite")
        if is_str(value):
            ok = value == "" or CIPHER.fullmatch(value)
            yield f"{where}.cipher_suite", None if ok else f"{json.dumps(value)} is not an IANA name"


def certificate_problem(certificate):
    if certificate.get("format") != "base64":
        return f"format {json.dumps(certificate.get('format'))}, not \"base64\""
    data = certificate.get("data")
    if not is_str(data):
        return "data is not a string"
    try:
        der = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return "data is not base64"
    if not der or der[0] != 0x30:
        return "data does not decode to DER (a SEQUENCE, first byte 0x30)"
    return None


@rule("S4", "a peer certificate is {format: \"base64\", data: base64 of DER (first byte 0x30)}")
def check_certificates(m):
    for where, handshake in entries(m, "tls_handshakes"):
        certificates = handshake.get("peer_certificates")
        if isinstance(certificates, list):
            for index, certificate in enumerate(certificates):
                if isinstance(certificate, dict):
                    yield f"{where}.peer_certificates[{index}]", certificate_problem(certificate)


# ---- requests (df-001) ---------------------------------------------------------------------

REQUEST_FIELDS = {
    "url": (is_str, "a string"), "method": (is_str, "a string"),
    "headers_list": (headers_list_ok, "a list of [name, value] strings"),
    "headers": (headers_ok, "an object of strings"), "body": (is_str, "a string"),
    "body_is_truncated": (lambda v: isinstance(v, bool), "a boolean"),
}
RESPONSE_FIELDS = {
    "code": (lambda v: is_int(v) and v >= 0, "an integer >= 0"),
    "headers_list": (headers_list_ok, "a list of [name, value] strings"),
    "headers": (headers_ok, "an object of strings"), "body": (null_or_str, "null or a string"),
    "body_is_truncated": (lambda v: isinstance(v, bool), "a boolean"),
}
HTTP_FIELDS = {
    "request": (lambda v: isinstance(v, dict), "an object"),
    "failure": (null_or_str, "null or a string"), "t0": (is_num, "a number"), "t": (is_num, "a number"),
    "transaction_id": (is_int, "an integer"),
}


@rule("H1", "a request entry has request {url, method, headers_list, headers, body, body_is_truncated}, "
            "failure, t0, t, transaction_id")
def check_request_shape(m):
    for where, entry in entries(m, "requests"):
        problems = field_problems(entry, HTTP_FIELDS)
        if isinstance(entry.get("request"), dict):
            problems += ["request." + p for p in field_problems(entry["request"], REQUEST_FIELDS)]
        yield where, "; ".join(problems) or None


@rule("H2", "a response is {code, headers_list, headers, body, body_is_truncated} with optional "
            "x_body_length (integer) and x_body_sha256 (hex digest)")
def check_response_shape(m):
    for where, entry in entries(m, "requests"):
        response = entry.get("response")
        if not isinstance(response, dict):
            yield f"{where}.response", "missing or not an object"
            continue
        problems = field_problems(response, RESPONSE_FIELDS)
        if "x_body_length" in response and not (is_int(response["x_body_length"]) and response["x_body_length"] >= 0):
            problems.append("x_body_length is not an integer >= 0")
        if "x_body_sha256" in response and not (
                response["x_body_sha256"] is None
                or (is_str(response["x_body_sha256"]) and SHA256_HEX.fullmatch(response["x_body_sha256"]))):
            problems.append("x_body_sha256 is not a hex SHA-256")
        yield f"{where}.response", "; ".join(problems) or None


@rule("H3", "a request sends Host and User-Agent (request.headers_list, any case)")
def check_request_headers(m):
    for where, entry in entries(m, "requests"):
        request = entry.get("request")
        if isinstance(request, dict) and headers_list_ok(request.get("headers_list")):
            names = {name.lower() for name, _ in request["headers_list"]}
            missing = [h for h in ("Host", "User-Agent") if h.lower() not in names]
            yield f"{where}.request.headers_list", f"no {' or '.join(missing)}" if missing else None


@rule("H4", "a response body kept is not \"\" when x_body_length > 0 (a body not kept is null)")
def check_empty_body(m):
    for where, entry in entries(m, "requests"):
        response = entry.get("response")
        if isinstance(response, dict) and is_int(response.get("x_body_length")) and "body" in response:
            empty = response["body"] == "" and response["x_body_length"] > 0
            yield f"{where}.response.body", (
                f"\"\" for a body of {response['x_body_length']} bytes" if empty else None)


@rule("H5", "a request without failure has response.code > 0")
def check_response_code(m):
    for where, entry in entries(m, "requests"):
        response = entry.get("response")
        if "failure" in entry and entry["failure"] is None and isinstance(response, dict) \
                and is_int(response.get("code")):
            yield f"{where}.response.code", None if response["code"] > 0 else (
                f"{response['code']} with failure null")


# ---- failures (df-007) ---------------------------------------------------------------------

def failures(m):
    keys = test_keys(m)
    if keys is not None and "failure" in keys:
        yield "test_keys.failure", keys["failure"]
    for kind in ("queries", "tls_handshakes", "requests", "network_events"):
        for where, entry in entries(m, kind):
            if "failure" in entry:
                yield f"{where}.failure", entry["failure"]
    for where, entry in entries(m, "tcp_connect"):
        status = entry.get("status")
        if isinstance(status, dict) and "failure" in status:
            yield f"{where}.status.failure", status["failure"]


@rule("F1", "a failure string is one of df-007's (those this probe uses) or unknown_failure: <detail>")
def check_failures(m):
    for where, value in failures(m):
        if is_str(value):
            known = value in FAILURES or (value.startswith("unknown_failure: ")
                                          and value[len("unknown_failure: "):].strip())
            yield where, None if known else f"{json.dumps(value)[:80]} is not a df-007 failure"


# ---- timing --------------------------------------------------------------------------------

@rule("C1", "an event's 0 <= t0 <= t")
def check_event_times(m):
    for where, event in events(m):
        t0, t = event.get("t0"), event.get("t")
        if is_num(t0) and is_num(t):
            yield where, None if 0 <= t0 <= t else f"t0 {t0}, t {t}"
        elif "t0" not in event and is_num(t):  # network_events may carry t alone
            yield where, None if t >= 0 else f"t {t}"


@rule("C2", "test_runtime >= every event's t (the control paths' included)")
def check_runtime(m):
    runtime = m.get("test_runtime")
    if not (is_num(runtime) and runtime >= 0):
        return  # B14's violation
    latest = None
    for where, event in events(m):
        if is_num(event.get("t")) and (latest is None or event["t"] > latest[1]):
            latest = (where, event["t"])
    if latest is not None:
        yield "test_runtime", None if runtime >= latest[1] else (
            f"{runtime} is before {latest[0]}'s t {latest[1]}")


# ---- the join by transaction_id (ooni/data's observations) ---------------------------------

def ids(arrays, kind):
    return [(index, entry, entry["transaction_id"]) for index, entry in entries_of(arrays, kind)
            if is_int(entry.get("transaction_id"))]


def join_rule(rule_id, description):
    """A rule applied to each event set (test_keys', each control path's) in turn."""
    def register(check):
        def over_sets(m):
            for where, arrays in event_sets(m):
                yield from check(m, where, arrays)
        RULES.append(Rule(rule_id, description, over_sets))
        return check
    return register


def unique_ids(where, arrays, kind):
    """Each entry of `kind` has a transaction_id no other entry of `kind` has."""
    seen = {}
    for index, _, tid in ids(arrays, kind):
        first = seen.setdefault(tid, index)
        yield f"{where}.{kind}[{index}]", None if first == index else (
            f"transaction_id {tid} is also {kind}[{first}]'s")


def joins_tcp(where, arrays, kind):
    """Each entry of `kind` has the transaction_id of a tcp_connect entry."""
    tcp_ids = {tid for _, _, tid in ids(arrays, "tcp_connect")}
    for index, _, tid in ids(arrays, kind):
        yield f"{where}.{kind}[{index}]", None if tid in tcp_ids else (
            f"transaction_id {tid} joins no tcp_connect")


@join_rule("J1", "tcp_connect transaction_ids are unique")
def check_tcp_ids(m, where, arrays):
    yield from unique_ids(where, arrays, "tcp_connect")


@join_rule("J2", "a tls_handshake's transaction_id is a tcp_connect's")
def check_tls_joins(m, where, arrays):
    yield from joins_tcp(where, arrays, "tls_handshakes")


@join_rule("J3", "a tls_handshake's address is its tcp_connect's ip and port")
def check_tls_address_joins(m, where, arrays):
    tcp = ids(arrays, "tcp_connect")
    for index, handshake, tid in ids(arrays, "tls_handshakes"):
        address = handshake.get("address")
        if not (is_str(address) and address_ok(address)):
            continue  # S1's or S2's violation
        joined = [(i, c) for i, c, t in tcp if t == tid and is_ip(c.get("ip")) and is_int(c.get("port"))]
        for tcp_index, connect in joined:
            expected = address_of(connect["ip"], connect["port"])
            yield f"{where}.tls_handshakes[{index}]", None if address == expected else (
                f"address {address}, but tcp_connect[{tcp_index}] (transaction {tid}) is {expected}")


@join_rule("J4", "no two tls_handshakes share a transaction_id (a decoy handshake has its own connection)")
def check_tls_ids(m, where, arrays):
    yield from unique_ids(where, arrays, "tls_handshakes")


@join_rule("J5", "a request's transaction_id is a tcp_connect's")
def check_request_joins(m, where, arrays):
    yield from joins_tcp(where, arrays, "requests")


@join_rule("J6", "query transaction_ids are not connections' (tcp_connect, tls_handshakes, requests)")
def check_query_ids(m, where, arrays):
    connection_ids = {tid for kind in ("tcp_connect", "tls_handshakes", "requests")
                      for _, _, tid in ids(arrays, kind)}
    for index, _, tid in ids(arrays, "queries"):
        yield f"{where}.queries[{index}]", None if tid not in connection_ids else (
            f"transaction_id {tid} is a connection's")


@join_rule("J7", "a decoy_sni handshake has no_tls_verify true")
def check_decoy_verify(m, where, arrays):
    for index, handshake in entries_of(arrays, "tls_handshakes"):
        if is_decoy(handshake):
            yield f"{where}.tls_handshakes[{index}]", None if handshake.get("no_tls_verify") is True else (
                f"no_tls_verify {json.dumps(handshake.get('no_tls_verify'))}")


@join_rule("J8", "a decoy_sni handshake comes after the other handshake to its address")
def check_decoy_order(m, where, arrays):
    handshakes = entries_of(arrays, "tls_handshakes")
    for index, handshake in handshakes:
        if not is_decoy(handshake) or not is_str(handshake.get("address")):
            continue
        others = [i for i, h in handshakes if not is_decoy(h) and h.get("address") == handshake["address"]]
        if others:
            yield f"{where}.tls_handshakes[{index}]", None if min(others) < index else (
                f"decoy listed before tls_handshakes[{min(others)}] to {handshake['address']}")


@join_rule("J9", "for https:// and tlshandshake:// inputs, a handshake's server_name is the input's host "
                 "(decoy_sni ones aside)")
def check_server_name(m, where, arrays):
    parsed = parse_input(m.get("test_name"), m.get("input"))
    if not parsed or parsed[0] not in ("https", "tlshandshake"):
        return
    host = parsed[1]
    for index, handshake in entries_of(arrays, "tls_handshakes"):
        name = handshake.get("server_name")
        if not is_decoy(handshake) and is_str(name):
            yield f"{where}.tls_handshakes[{index}]", None if name.lower() == host.lower() else (
                f"server_name {json.dumps(name)}, not the input's {host}")


# Every path connects to every address any path's DNS gave (a censor's resolver lies on direct,
# control's truth is tried there too, as web_connectivity tries its test helper's addresses), so
# the answers are those of the whole measurement, not of one set.
@join_rule("J10", "a tcp_connect's ip is among the measurement's A/AAAA answers (when a query answered)")
def check_connect_answered(m, where, arrays):
    answered = set()
    for _, each in event_sets(m):
        for _, query in entries_of(each, "queries"):
            answers = query.get("answers")
            for answer in answers if isinstance(answers, list) else []:
                if isinstance(answer, dict):
                    for key in ("ipv4", "ipv6"):
                        if is_ip(answer.get(key)):
                            answered.add(ipaddress.ip_address(answer[key]))
    if not answered:
        return
    for index, connect in entries_of(arrays, "tcp_connect"):
        ip = connect.get("ip")
        if is_ip(ip):
            yield f"{where}.tcp_connect[{index}]", None if ipaddress.ip_address(ip) in answered else (
                f"{ip} is no answer of the queries")


# ---- running -------------------------------------------------------------------------------

def check_measurement(measurement):
    """{rule id: (checked, [where: why, ...])} for one measurement (a dict)."""
    results = {}
    for each in RULES:
        checked, violations = 0, []
        for where, why in each.check(measurement):
            checked += 1
            if why is not None:
                violations.append(f"{where}: {why}")
        results[each.id] = (checked, violations)
    return results


def violated(measurement):
    """The ids of the rules `measurement` violates."""
    return {rule_id for rule_id, (_, found) in check_measurement(measurement).items() if found}


class Unreadable(Exception):
    pass


def no_constant(name):
    raise ValueError(f"{name} is not JSON")


def unique_keys(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {json.dumps(key)}")
        seen[key] = value
    return seen


def parse_line(raw):
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=no_constant, object_pairs_hook=unique_keys)
    except (UnicodeDecodeError, ValueError) as error:
        raise Unreadable(f"not JSON: {error}") from None
    if not isinstance(value, dict):
        raise Unreadable(f"not a JSON object but {type(value).__name__}")
    return value


def read_lines(path):
    if path == "-":
        return "<stdin>", sys.stdin.buffer.read()
    try:
        with open(path, "rb") as handle:
            return path, handle.read()
    except OSError as error:
        raise Unreadable(f"cannot read: {error.strerror}") from None


def main(argv):
    args = argv[1:]
    quiet = "--quiet" in args
    paths = [a for a in args if a != "--quiet"]
    if not paths or any(a.startswith("--") for a in paths):
        print(__doc__, file=sys.stderr)
        return 2
    totals = {each.id: [0, []] for each in RULES}
    lines, unreadable = 0, 0
    for path in paths:
        try:
            name, data = read_lines(path)
        except Unreadable as error:
            print(f"{path}: {error}", file=sys.stderr)
            unreadable += 1
            continue
        for number, raw in enumerate(data.split(b"\n"), start=1):
            if raw.strip() == b"" and number == data.count(b"\n") + 1:
                continue  # what follows the last newline
            try:
                measurement = parse_line(raw)
            except Unreadable as error:
                print(f"{name}:{number}: {error}", file=sys.stderr)
                unreadable += 1
                continue
            lines += 1
            for rule_id, (checked, found) in check_measurement(measurement).items():
                totals[rule_id][0] += checked
                totals[rule_id][1].extend(f"{name}:{number}: {why}" for why in found)
    if lines == 0 and not unreadable:
        print("ooni_check: no measurement in the input", file=sys.stderr)
        unreadable += 1
    violations = 0
    for each in RULES:
        checked, found = totals[each.id]
        violations += len(found)
        print(f"{each.id} {each.description}: {checked} checked, {len(found)} violations")
        if not quiet:
            for line in found[:5]:
                print(f"  {line}")
    print(f"ooni_check: {lines} lines, {len(RULES)} rules, {violations} violations")
    if unreadable:
        return 2
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
