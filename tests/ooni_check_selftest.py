#!/usr/bin/python3
"""Proves tests/ooni_check.py: correct measurements pass, and each rule, broken once, is the one
rule reported (so every rule is shown to fire, and to fire alone). Also runs the command line:
its output lines, --quiet, standard input, and exit codes 0, 1 and 2. No network, stdlib only."""
import base64
import copy
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
import ooni_check  # noqa: E402  (the checker, beside this file)

CHECKER = os.path.join(HERE, "ooni_check.py")
V4, V6 = "93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"
DER = base64.b64encode(bytes([0x30, 0x82, 0x01, 0x0a, 0x02, 0x01, 0x01])).decode()


def base(test_name, input_, keys):
    short = test_name.replace("_", "")
    return {
        "annotations": {"architecture": "amd64", "platform": "linux", "engine_name": "probe",
                        "engine_version": "1.0.0", "target_kind": "web"},
        "data_format_version": "0.2.0",
        "extensions": {"dnst": 0, "tcpconnect": 0, "tlshandshake": 0, "httpt": 0},
        "input": input_,
        "measurement_start_time": "2024-03-01 12:00:05",
        "test_start_time": "2024-03-01 12:00:00",
        "probe_asn": "AS15169",
        "probe_cc": "US",
        "probe_ip": "127.0.0.1",
        "report_id": f"20240301T120000Z_{short}_US_15169_n1_AbCdEf0123456789",
        "resolver_ip": "127.0.0.1",
        "software_name": "probe",
        "software_version": "1.0.0",
        "test_helpers": {},
        "test_keys": keys,
        "test_name": test_name,
        "test_runtime": 2.5,
        "test_version": "0.2.0",
    }


def query(tid, kind, answers, t0=0.0, t=0.05, failure=None):
    return {"engine": "udp", "resolver_address": "8.8.8.8:53", "hostname": "example.com",
            "query_type": kind, "answers": answers, "failure": failure, "t0": t0, "t": t,
            "transaction_id": tid}


def connect(tid, ip, t0, t, failure=None):
    return {"ip": ip, "port": 443, "status": {"success": failure is None, "failure": failure},
            "t0": t0, "t": t, "transaction_id": tid}


def handshake(tid, address, t0, t, decoy=False):
    return {"address": address, "server_name": "decoy.example" if decoy else "example.com",
            "cipher_suite": "TLS_AES_128_GCM_SHA256", "negotiated_protocol": "http/1.1",
            "tls_version": "TLSv1.3", "peer_certificates": [{"format": "base64", "data": DER}],
            "failure": None, "t0": t0, "t": t, "no_tls_verify": decoy,
            "tags": ["decoy_sni"] if decoy else [], "transaction_id": tid}


def request(tid, t0, t):
    return {
        "request": {"url": "https://example.com/", "method": "GET",
                    "headers_list": [["Host", "example.com"], ["user-agent", "probe/1.0"]],
                    "headers": {"Host": "example.com", "user-agent": "probe/1.0"},
                    "body": "", "body_is_truncated": False},
        "response": {"code": 200, "headers_list": [["Content-Type", "text/html"]],
                     "headers": {"Content-Type": "text/html"}, "body": None,
                     "body_is_truncated": False, "x_body_length": 1256, "x_body_sha256": "ab" * 32},
        "failure": None, "t0": t0, "t": t, "transaction_id": tid}


def arrays(t_shift=0.0):
    s = t_shift
    return {
        "queries": [query(1, "A", [{"answer_type": "A", "ipv4": V4, "ttl": 60}], 0.0 + s, 0.05 + s),
                    query(2, "AAAA", [{"answer_type": "AAAA", "ipv6": V6, "ttl": 60},
                                      {"answer_type": "CNAME", "hostname": "example.com", "ttl": None}],
                          0.0 + s, 0.06 + s)],
        "tcp_connect": [connect(3, V4, 0.1 + s, 0.2 + s), connect(4, V4, 0.1 + s, 0.21 + s),
                        connect(5, V6, 0.1 + s, 0.3 + s, "connection_refused")],
        "tls_handshakes": [handshake(3, f"{V4}:443", 0.2 + s, 0.4 + s),
                           handshake(4, f"{V4}:443", 0.21 + s, 0.45 + s, decoy=True)],
        "requests": [request(3, 0.4 + s, 0.9 + s)],
    }


def urlgetter():
    keys = arrays()
    keys.update({"agent": "agent", "failure": None,
                 "network_events": [{"operation": "connect", "address": f"{V4}:443", "failure": None,
                                     "t0": 0.1, "t": 0.2, "transaction_id": 3},
                                    {"operation": "read", "failure": "eof_error", "t": 0.95}],
                 "x_control_paths": {"vpn": arrays(t_shift=1.0)},
                 "x_probe_verdict": {"status": "accessible", "failure": "anything goes here"}})
    return base("urlgetter", "https://example.com/", keys)


def stun():
    return base("stunreachability", "stun://stun.example.org:3478",
                {"endpoint": "stun.example.org:3478", "failure": None, "queries": [],
                 "network_events": [], "x_probe_verdict": None})


def tlshandshake():
    keys, control = arrays(), arrays(t_shift=1.0)
    keys["requests"] = control["requests"] = []
    keys.update({"failure": None, "x_control_paths": {"vpn": control}})
    return base("urlgetter", "tlshandshake://example.com:443", keys)


def tk(m):
    return m["test_keys"]


def cp(m):
    return m["test_keys"]["x_control_paths"]["vpn"]


def setter(function):
    """A break that edits a copy of the urlgetter measurement in place."""
    return urlgetter, function


def on(make, function):
    return make, function


def delete(mapping, key):
    del mapping[key]


# Each rule broken once (some more than once, in other places): (rule id, (make, edit)).
BREAKS = [
    ("B1", setter(lambda m: delete(m["annotations"], "engine_version"))),
    ("B1", setter(lambda m: m["annotations"].update(interrupted=False))),
    ("B2", setter(lambda m: m.update(data_format_version="0.3.0"))),
    ("B3", setter(lambda m: m.update(extensions={"dnst": "0"}))),
    ("B4", setter(lambda m: delete(m, "input"))),
    ("B5", setter(lambda m: m.update(measurement_start_time="2024-03-01T12:00:05Z"))),
    ("B5", setter(lambda m: m.update(test_start_time="2024-02-30 12:00:00"))),
    ("B6", setter(lambda m: m.update(probe_asn="15169"))),
    ("B7", setter(lambda m: m.update(probe_cc="us"))),
    ("B8", setter(lambda m: m.update(probe_ip="192.0.2.7"))),
    ("B9", setter(lambda m: m.update(resolver_ip=None))),
    ("B10", setter(lambda m: m.update(software_version=""))),
    ("B11", setter(lambda m: m.update(test_helpers=[]))),
    ("B12", setter(lambda m: m.update(test_keys=[]))),
    ("B13", setter(lambda m: m.update(test_name="web_connectivity"))),
    ("B14", setter(lambda m: m.update(test_runtime=-1))),
    ("B14", setter(lambda m: m.update(test_runtime="2.5"))),
    ("B15", setter(lambda m: m.update(test_version=2))),
    ("B16", setter(lambda m: m.update(measurement_uid="20240301120005.000000_US_urlgetter_0123abcd"))),
    ("R1", setter(lambda m: m.update(report_id="20240301T120000Z_AS15169_urlgetter_run1"))),
    ("R1", setter(lambda m: m.update(report_id="20241301T120000Z_urlgetter_US_15169_n1_AbCd"))),
    ("R2", setter(lambda m: m.update(report_id="20240301T120000Z_webconnectivity_US_15169_n1_AbCd"))),
    ("R3", setter(lambda m: m.update(report_id="20240301T120000Z_urlgetter_IT_15169_n1_AbCd"))),
    ("R4", setter(lambda m: m.update(report_id="20240301T120000Z_urlgetter_US_3320_n1_AbCd"))),
    ("I1", setter(lambda m: m.update(input="ftp://example.com/"))),
    ("I1", on(tlshandshake, lambda m: m.update(input="tlshandshake://example.com"))),
    ("I1", on(stun, lambda m: m.update(input="stun.example.org:3478"))),
    ("I2", on(stun, lambda m: tk(m).update(endpoint="stun.example.org"))),
    ("K1", setter(lambda m: tk(m).update(control_paths={}))),
    ("K1", on(stun, lambda m: tk(m).update(requests=[]))),
    ("K2", setter(lambda m: delete(cp(m), "requests"))),
    ("K2", setter(lambda m: cp(m).update(verdict="ok"))),
    ("K3", setter(lambda m: tk(m).update(requests=None))),
    ("K3", setter(lambda m: tk(m)["network_events"].append("read"))),
    ("K4", setter(lambda m: tk(m).update(failure=5))),
    ("K4", on(stun, lambda m: delete(tk(m), "failure"))),
    ("Q1", setter(lambda m: delete(tk(m)["queries"][0], "engine"))),
    ("Q1", setter(lambda m: cp(m)["queries"][1].update(transaction_id="2"))),
    ("Q2", setter(lambda m: tk(m)["queries"][0]["answers"].append({"answer_type": "A", "ipv4": "999.1.1.1",
                                                                  "ttl": 60}))),
    ("Q2", setter(lambda m: delete(tk(m)["queries"][1]["answers"][0], "ttl"))),
    ("T1", setter(lambda m: delete(tk(m)["tcp_connect"][0], "t0"))),
    ("T1", setter(lambda m: tk(m)["tcp_connect"][2]["status"].update(success="false"))),
    ("T2", setter(lambda m: tk(m)["tcp_connect"][2]["status"].update(success=True))),
    ("S1", setter(lambda m: delete(tk(m)["tls_handshakes"][0], "no_tls_verify"))),
    ("S1", setter(lambda m: cp(m)["tls_handshakes"][0].update(tags="retest"))),
    ("S2", setter(lambda m: tk(m)["tls_handshakes"][0].update(address=V4))),
    ("S2", setter(lambda m: cp(m)["tls_handshakes"][0].update(address=f"{V6}:443"))),
    ("S3", setter(lambda m: tk(m)["tls_handshakes"][0].update(cipher_suite="ECDHE-RSA-AES128-GCM-SHA256"))),
    ("S4", setter(lambda m: tk(m)["tls_handshakes"][0]["peer_certificates"][0].update(
        data=base64.b64encode(b"\x02\x01\x01").decode()))),
    ("S4", setter(lambda m: tk(m)["tls_handshakes"][0]["peer_certificates"][0].update(format="pem"))),
    ("H1", setter(lambda m: delete(tk(m)["requests"][0]["request"], "method"))),
    ("H1", setter(lambda m: tk(m)["requests"][0]["request"].update(headers_list=[["Host"]]))),
    ("H2", setter(lambda m: tk(m)["requests"][0]["response"].update(code="200"))),
    ("H2", setter(lambda m: tk(m)["requests"][0]["response"].update(x_body_sha256="xyz"))),
    ("H3", setter(lambda m: tk(m)["requests"][0]["request"]["headers_list"].pop())),
    ("H4", setter(lambda m: tk(m)["requests"][0]["response"].update(body=""))),
    ("H5", setter(lambda m: tk(m)["requests"][0]["response"].update(code=0))),
    ("F1", setter(lambda m: tk(m)["tcp_connect"][2]["status"].update(failure="connection refused"))),
    ("F1", setter(lambda m: cp(m)["requests"][0].update(failure="unknown_failure: "))),
    ("F1", setter(lambda m: tk(m)["network_events"][1].update(failure="EOF"))),
    ("C1", setter(lambda m: tk(m)["tls_handshakes"][0].update(t0=0.5))),
    ("C1", setter(lambda m: cp(m)["queries"][0].update(t0=-0.1))),
    ("C2", setter(lambda m: m.update(test_runtime=0.95))),  # the control path's request ends at 1.9
    ("J1", setter(lambda m: tk(m)["tcp_connect"].append(dict(tk(m)["tcp_connect"][0])))),
    ("J2", setter(lambda m: tk(m)["tls_handshakes"][0].update(transaction_id=99))),
    ("J2", setter(lambda m: cp(m)["tls_handshakes"][1].update(transaction_id=99))),
    ("J3", setter(lambda m: tk(m)["tls_handshakes"][1].update(address=f"{V4}:8443"))),
    ("J4", setter(lambda m: tk(m)["tls_handshakes"][1].update(transaction_id=3))),
    ("J5", setter(lambda m: tk(m)["requests"][0].update(transaction_id=77))),
    ("J6", setter(lambda m: tk(m)["queries"][1].update(transaction_id=5))),
    ("J7", setter(lambda m: tk(m)["tls_handshakes"][1].update(no_tls_verify=False))),
    ("J8", setter(lambda m: tk(m)["tls_handshakes"].reverse())),
    ("J9", setter(lambda m: tk(m)["tls_handshakes"][0].update(server_name="www.example.com"))),
    ("J9", on(tlshandshake, lambda m: cp(m)["tls_handshakes"][0].update(server_name=""))),
    ("J10", setter(lambda m: (tk(m)["tcp_connect"][1].update(ip="10.0.0.1"),
                              tk(m)["tls_handshakes"][1].update(address="10.0.0.1:443")))),
]


def broken(make, edit):
    measurement = copy.deepcopy(make())
    edit(measurement)
    return measurement


class RulesFire(unittest.TestCase):
    def test_correct_measurements_pass(self):
        for make in (urlgetter, stun, tlshandshake):
            results = ooni_check.check_measurement(make())
            found = {rule_id: why for rule_id, (_, why) in results.items() if why}
            self.assertEqual(found, {}, make.__name__)

    def test_correct_measurement_exercises_every_rule(self):
        # Every rule looks at something in the correct urlgetter measurement (or the stun one),
        # so a pass is not a rule that found nothing to check.
        checked = {rule_id for make in (urlgetter, stun)
                   for rule_id, (count, _) in ooni_check.check_measurement(make()).items() if count}
        self.assertEqual(checked, {each.id for each in ooni_check.RULES})

    def test_each_break_violates_exactly_its_rule(self):
        for index, (rule_id, (make, edit)) in enumerate(BREAKS):
            with self.subTest(index=index, rule=rule_id):
                results = ooni_check.check_measurement(broken(make, edit))
                found = {r: why for r, (_, why) in results.items() if why}
                self.assertEqual(set(found), {rule_id}, found)

    def test_every_rule_is_broken(self):
        self.assertEqual({rule_id for rule_id, _ in BREAKS}, {each.id for each in ooni_check.RULES})

    def test_rule_ids_unique(self):
        ids = [each.id for each in ooni_check.RULES]
        self.assertEqual(len(ids), len(set(ids)))


class CommandLine(unittest.TestCase):
    def run_checker(self, *args, stdin=None):
        return subprocess.run([sys.executable, CHECKER, *args], input=stdin, capture_output=True,
                              check=False)

    def write(self, directory, name, text):
        path = os.path.join(directory, name)
        with open(path, "wb") as handle:
            handle.write(text if isinstance(text, bytes) else text.encode())
        return path

    def test_good_file_passes(self):
        with tempfile.TemporaryDirectory() as directory:
            good = self.write(directory, "good.jsonl",
                              "".join(json.dumps(m) + "\n" for m in (urlgetter(), stun(), tlshandshake())))
            done = self.run_checker(good)
            self.assertEqual(done.returncode, 0, done.stdout.decode() + done.stderr.decode())
            out = done.stdout.decode().splitlines()
            self.assertEqual(len(out), len(ooni_check.RULES) + 1)
            self.assertRegex(out[0], r"^B1 .*: [1-9][0-9]* checked, 0 violations$")
            self.assertEqual(out[-1], f"ooni_check: 3 lines, {len(ooni_check.RULES)} rules, 0 violations")

    def test_violations_listed_and_exit_1(self):
        bad = broken(*dict(BREAKS)["S3"])
        with tempfile.TemporaryDirectory() as directory:
            path = self.write(directory, "bad.jsonl", json.dumps(urlgetter()) + "\n" + json.dumps(bad) + "\n")
            done = self.run_checker(path)
            self.assertEqual(done.returncode, 1)
            out = done.stdout.decode()
            self.assertRegex(out, r"(?m)^S3 .*: \d+ checked, 1 violations$")
            self.assertIn(f"  {path}:2: test_keys.tls_handshakes[0].cipher_suite:", out)
            self.assertTrue(out.rstrip().endswith("1 violations"))
            quiet = self.run_checker("--quiet", path)
            self.assertEqual(quiet.returncode, 1)
            self.assertNotIn(f"{path}:2:", quiet.stdout.decode())

    def test_stdin(self):
        done = self.run_checker("--quiet", "-", stdin=(json.dumps(stun()) + "\n").encode())
        self.assertEqual(done.returncode, 0, done.stdout.decode())
        self.assertIn("ooni_check: 1 lines,", done.stdout.decode())

    def test_unreadable_exits_2(self):
        with tempfile.TemporaryDirectory() as directory:
            for name, text in (("notjson.jsonl", "{\"a\": \n"), ("array.jsonl", "[1, 2]\n"),
                               ("nan.jsonl", "{\"a\": NaN}\n"), ("dup.jsonl", "{\"a\": 1, \"a\": 2}\n"),
                               ("utf8.jsonl", b"{\"a\": \"\xff\"}\n"), ("empty.jsonl", "")):
                with self.subTest(name=name):
                    done = self.run_checker(self.write(directory, name, text))
                    self.assertEqual(done.returncode, 2, done.stderr.decode())
            done = self.run_checker(os.path.join(directory, "missing.jsonl"))
            self.assertEqual(done.returncode, 2)


if __name__ == "__main__":
    unittest.main()
