#!/usr/bin/env python3
"""Writes the hand-made seed replies of the dns_reply fuzzer into corpus/dns_reply/ (run it after
editing; inputs kept from fuzzer findings, named crash_*, are left alone)."""
import ipaddress
import pathlib
import struct

OUT = pathlib.Path(__file__).resolve().parent / "corpus" / "dns_reply"
QNAME_AT = b"\xc0\x0c"  # a pointer to the question's name, right after the 12-byte header


def name(dotted):
    out = b""
    for label in dotted.split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def header(flags, qd=1, an=0, ns=0, ar=0, ident=0x1234):
    return struct.pack(">HHHHHH", ident, flags, qd, an, ns, ar)


def question(dotted="www.example.org", qtype=1):
    return name(dotted) + struct.pack(">HH", qtype, 1)


def record(owner, rtype, rdata, ttl=300, klass=1):
    return owner + struct.pack(">HHIH", rtype, klass, ttl, len(rdata)) + rdata


def a(text):
    return ipaddress.IPv4Address(text).packed


def aaaa(text):
    return ipaddress.IPv6Address(text).packed


OK = 0x8180


def replies():
    yield "a", header(OK, an=1) + question() + record(QNAME_AT, 1, a("93.184.216.34"))
    yield "aaaa", header(OK, an=2) + question(qtype=28) + record(QNAME_AT, 28, aaaa("2001:db8::1")) + \
        record(QNAME_AT, 28, aaaa("::ffff:192.0.2.1"))
    # www.example.org CNAME edge.cdn.example.net CNAME b.cdn.example.net A x 2; names compressed.
    q = question()
    first = name("edge.cdn.example.net")
    at_first = 12 + len(q) + 12  # after the first record's fixed part
    second = b"\x01b" + struct.pack(">H", 0xC000 | (at_first + 5))  # "b" + the "cdn.example.net" suffix
    at_second = at_first + len(first) + 12
    body = record(QNAME_AT, 5, first) + record(struct.pack(">H", 0xC000 | at_first), 5, second) + \
        record(struct.pack(">H", 0xC000 | at_second), 1, a("198.51.100.7")) + \
        record(struct.pack(">H", 0xC000 | at_second), 1, a("198.51.100.8"))
    yield "cname_chain", header(OK, an=4) + q + body
    soa = name("ns.example.org") + name("admin.example.org") + struct.pack(">IIIII", 1, 7200, 3600, 86400, 300)
    yield "nxdomain", header(0x8183, ns=1) + question() + record(b"\xc0\x10", 6, soa)
    yield "servfail", header(0x8182) + question()
    yield "refused", header(0x8185) + question()
    yield "truncated_tc", header(0x8380) + question()
    full = header(OK, an=2) + question() + record(QNAME_AT, 1, a("192.0.2.1")) + record(QNAME_AT, 1, a("192.0.2.2"))
    yield "cut_short", full[:-3]
    yield "pointer_loop", header(OK, an=1) + question() + record(b"\xc0\x21", 1, a("192.0.2.1"))
    yield "pointer_forward", header(OK, an=1) + b"\xc0\x20\x00\x01\x00\x01" + question() + record(QNAME_AT, 1, a("192.0.2.1"))
    opt = b"\x00" + struct.pack(">HHIH", 41, 1232, 0, 8) + struct.pack(">HH", 10, 4) + b"cook"
    yield "edns_opt", header(OK, an=1, ar=1) + question() + record(QNAME_AT, 1, a("203.0.113.9")) + opt
    yield "bogon", header(OK, an=3) + question() + record(QNAME_AT, 1, a("10.10.34.35")) + \
        record(QNAME_AT, 1, a("127.0.0.1")) + record(QNAME_AT, 1, a("100.64.0.1"))
    yield "other_types", header(OK, an=4) + question(qtype=28) + record(QNAME_AT, 1, a("192.0.2.1")) + \
        record(QNAME_AT, 16, b"\x05hello") + record(QNAME_AT, 15, b"\x00\x0a" + QNAME_AT) + \
        record(QNAME_AT, 28, aaaa("fe80::1"))
    yield "no_question", header(0x8181, qd=0)
    yield "a_wrong_length", header(OK, an=1) + question() + record(QNAME_AT, 1, b"\x01\x02\x03\x04\x05")
    yield "cname_overrun", header(OK, an=1) + question() + QNAME_AT + struct.pack(">HHIH", 5, 1, 60, 3) + name("x.example")
    yield "extended_label", header(OK, an=1) + question() + b"\x41\x01" + struct.pack(">HHIH", 1, 1, 60, 4) + a("192.0.2.1")
    long_name = ".".join(["a" * 63] * 3 + ["b" * 61])  # 253 characters: 255 bytes on the wire
    yield "long_name", header(OK, an=1) + question(long_name) + record(QNAME_AT, 1, a("192.0.2.1"))
    yield "query_not_reply", header(0x0100) + question()
    yield "mixed_case", header(OK, an=1) + question("WwW.ExAmPlE.oRg") + record(QNAME_AT, 1, a("192.0.2.1"))
    many = b"".join(record(QNAME_AT, 1, bytes([192, 0, 2, i])) for i in range(40))
    yield "many_answers", header(OK, an=40) + question() + many
    yield "header_only_short", header(OK)[:11]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for label, data in replies():
        (OUT / f"{label}.bin").write_bytes(data)


if __name__ == "__main__":
    main()
