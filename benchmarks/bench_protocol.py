"""ipyy protocol code vs the raw libraries it wraps: parsing, batch packing, DES, SOAP, TMS.

Run by hand (it is not a test)::

    /work/venv/bin/python benchmarks/bench_protocol.py [--quick] [--only NAME ...]

Pure CPU, no sockets. Each block compares one ``smsgate_ipyy`` function with the raw library
doing the same work on the same bytes, measured in this run and interleaved (see
``_bench.py``), and prints both rates, the ratio smsgate / baseline and a verdict:

- ``send-reply``: ``_parse.parse_send_reply`` vs ``lxml.etree.fromstring`` + ``findtext``;
- ``reports``: ``_parse.parse_reports_reply`` on a 4,000-item status pull vs
  ``fromstring`` + a ``findtext`` loop over the same fields;
- ``batch``: ``_build.build_batch_request`` for 1,000 personalised lines (and the
  provider's whole ``send_batch`` preparation) vs the same lines through raw
  ``gzip.compress`` + ``base64``;
- ``encrypted``: ``_build.build_encrypted_send_request`` (and ``_crypto.des_encrypt``
  alone) vs raw ``json.dumps`` + pycryptodome DES-CBC + ``base64``;
- ``soap``: ``_soap.build_send_request`` (zeep) vs the byte-identical envelope built with
  lxml directly, plus the one-off cost of loading the WSDL;
- ``tms``: ``_tms.pack`` / ``_tms.unpack`` vs ``struct`` + ``bytes.join`` / ``unpack_from``.

Each baseline's output is checked against smsgate's (same bytes, same values) before
timing, so both sides provably do the same work.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import gzip
import json
import os
import struct
import time
import urllib.parse

import httpx
from _bench import Settings, compare, report
from Crypto.Cipher import DES
from Crypto.Util.Padding import pad
from lxml import etree

import smsgate
from smsgate_ipyy import _build, _crypto, _parse, _tms

PROVIDER = "ipyy"
BASE_URL = "http://127.0.0.1:9/"
ACCOUNT, PASSWORD, USERID = "demo", "demo-password", "1001"
MOBILE = "13800138000"
TEXT = "您的验证码：1439，十分钟内有效。【腾飞】"

SEND_REPLY = (
    '<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>\n<returnstatus>Success</returnstatus>\n'
    "<message>操作成功</message>\n<remainpoint>999999</remainpoint>\n<taskID>2611251200000001</taskID>\n"
    "<successCounts>1</successCounts>\n</returnsms>"
).encode()
REPORT_FIELDS = ("mobile", "taskid", "status", "receivetime", "errorcode", "extno")


def reports_body(count: int) -> bytes:
    """A spec 4.3 status pull with ``count`` boxes, alternating delivered and failed."""
    boxes = []
    for i in range(count):
        ok = i % 3 != 0
        boxes.append(
            f"<statusbox>\n<mobile>138{i:08d}</mobile>\n<taskid>26112512{i // 100:08d}</taskid>\n"
            f"<status>{10 if ok else 20}</status>\n"
            f"<receivetime>2025-11-26 12:{i // 60 % 60:02d}:{i % 60:02d}</receivetime>\n"
            f"<errorcode>{'DELIVRD' if ok else 'UNDELIV'}</errorcode>\n<extno>{i % 7:02d}</extno>\n"
            "</statusbox>\n"
        )
    return (
        '<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>\n' + "".join(boxes) + "</returnsms>"
    ).encode()


# --- 2. reply parsing ---------------------------------------------------------------------------


def bench_send_reply(settings: Settings) -> None:
    """One send reply: the whole parse to a Receipt vs fromstring + four findtext."""

    def baseline() -> tuple[str | None, ...]:
        root = etree.fromstring(SEND_REPLY)
        return tuple(root.findtext(f) for f in ("returnstatus", "taskID", "successCounts", "remainpoint"))

    def subject() -> smsgate.Receipt:
        return _parse.parse_send_reply(SEND_REPLY, provider=PROVIDER, recipients=[MOBILE])

    receipt = subject()
    assert baseline() == ("Success", receipt.task_id, str(receipt.accepted), str(receipt.balance))
    report(
        "send-reply: one <returnsms> send reply",
        "lxml.etree.fromstring + 4x findtext",
        "_parse.parse_send_reply → Receipt",
        compare(baseline, subject, settings),
        "microseconds per reply either way, invisible next to a network round trip",
    )


def bench_reports(settings: Settings, count: int) -> None:
    """A big status pull: DeliveryReport models vs tuples of findtext strings."""
    body = reports_body(count)

    def baseline() -> list[tuple[str | None, ...]]:
        root = etree.fromstring(body)
        return [tuple(box.findtext(f) for f in REPORT_FIELDS) for box in root.iter("statusbox")]

    def subject() -> list[smsgate.DeliveryReport]:
        return _parse.parse_reports_reply(body, provider=PROVIDER)

    raw, parsed = baseline(), subject()
    assert len(raw) == len(parsed) == count
    assert [r[0] for r in raw] == [p.mobile for p in parsed]
    assert [r[4] for r in raw] == [p.vendor_code for p in parsed]
    report(
        f"reports: a {count:,}-item XML status pull ({len(body) / 1024:.0f} KiB)",
        "lxml.etree.fromstring + findtext loop",
        "_parse.parse_reports_reply → DeliveryReport",
        compare(baseline, subject, settings, ops_per_call=count),
        "ops = reports; the subject also decodes the body, checks for DTDs, parses times, builds models",
    )


# --- 3. batch packing ---------------------------------------------------------------------------


def batch_messages(count: int) -> list[smsgate.Sms]:
    """``count`` personalised messages, one recipient each."""
    return [
        smsgate.Sms(to=f"139{i:08d}", text=f"尊敬的会员{i:05d}，您的积分已到账，请查收。【腾飞】")
        for i in range(count)
    ]


def bench_batch(settings: Settings, count: int) -> None:
    """A BatchSms.ashx request for ``count`` lines vs raw gzip + base64 of the same text."""
    messages = batch_messages(count)
    lines = [(m.to[0], m.text) for m in messages]
    login = _build.Login(BASE_URL, USERID, ACCOUNT, PASSWORD)

    def baseline() -> bytes:
        text = "".join(f"{mobile},{content}\r\n" for mobile, content in lines).encode("utf-8")
        return base64.b64encode(gzip.compress(text, mtime=0))

    def builder() -> httpx.Request:
        return _build.build_batch_request(login, lines=lines)

    provider = smsgate.get_provider(
        "ipyy", account=ACCOUNT, password=PASSWORD, userid=USERID, base_url=BASE_URL
    )

    def flow() -> httpx.Request:
        return next(provider.send_batch(messages))

    sent = urllib.parse.parse_qs(builder().content.decode("ascii"))["content"][0]
    assert sent == baseline().decode("ascii")
    assert flow().content == builder().content
    rates = compare(baseline, builder, settings, ops_per_call=count)
    report(
        f"batch: {count:,} personalised lines to BatchSms.ashx (gzip)",
        "lines + gzip.compress + b64encode",
        "_build.build_batch_request",
        rates,
        "ops = lines; the subject adds the CR/LF check, form encoding and the httpx.Request",
    )
    report(
        f"batch-flow: the provider's send_batch preparation for {count:,} Sms",
        "lines + gzip.compress + b64encode",
        "next(IpyyProvider.send_batch(...))",
        (rates[0], compare(baseline, flow, settings, ops_per_call=count)[1]),
        "the subject also validates every number, signature and ext and plans the split",
    )


# --- 4. encrypted send payload ------------------------------------------------------------------


def bench_encrypted(settings: Settings) -> None:
    """ensms.ashx: Text64 (JSON + DES-CBC + base64) vs raw pycryptodome on the same JSON."""
    stamp = _crypto.stamp(dt.datetime(2025, 11, 26, 12, 0, tzinfo=_crypto.CHINA))
    key = PASSWORD.encode()[:8]
    document = {
        "UserName": ACCOUNT,
        "Secret": _crypto.secret(PASSWORD, stamp),
        "Stamp": stamp,
        "Moblie": MOBILE,  # spec 1.5: the vendor's spelling
        "Text": TEXT,
        "Ext": "",
        "SendTime": "",
    }

    def baseline() -> bytes:
        data = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        return base64.b64encode(DES.new(key, DES.MODE_CBC, iv=key).encrypt(pad(data, 8)))

    def subject() -> httpx.Request:
        return _build.build_encrypted_send_request(
            _build.Login(BASE_URL, USERID, ACCOUNT, PASSWORD),
            stamp_value=stamp,
            mobiles=[MOBILE],
            content=TEXT,
        )

    payload = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()

    def raw_des() -> bytes:
        return base64.b64encode(DES.new(key, DES.MODE_CBC, iv=key).encrypt(pad(payload, 8)))

    def des_only() -> str:
        return _crypto.des_encrypt(payload, PASSWORD)

    sent = urllib.parse.parse_qs(subject().content.decode("ascii"))["Text64"][0]
    assert sent == baseline().decode("ascii") == des_only()
    report(
        "encrypted: one ensms.ashx request (Secret, JSON, DES-CBC, base64)",
        "json.dumps + DES-CBC + b64encode",
        "_build.build_encrypted_send_request",
        compare(baseline, subject, settings),
        "the subject adds the MD5 Secret, form encoding and the httpx.Request",
    )
    report(
        "encrypted-des: the Text64 of the same JSON bytes",
        "DES.new + encrypt(pad) + b64encode",
        "_crypto.des_encrypt",
        compare(raw_des, des_only, settings),
    )


# --- 5. SOAP envelope ---------------------------------------------------------------------------

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
YYSMS = "http://www.yysms.com/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def lxml_envelope() -> bytes:
    """The SOAP 1.1 SendSms envelope, built with lxml alone (same bytes as zeep's)."""
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soap-env": SOAP11})
    body = etree.SubElement(envelope, f"{{{SOAP11}}}Body")
    call = etree.SubElement(body, f"{{{YYSMS}}}SendSms", nsmap={"ns0": YYSMS})
    etree.SubElement(call, f"{{{YYSMS}}}userName").text = ACCOUNT
    etree.SubElement(call, f"{{{YYSMS}}}password").text = PASSWORD
    sms = etree.SubElement(call, f"{{{YYSMS}}}sms")
    etree.SubElement(sms, f"{{{YYSMS}}}Msisdns").text = MOBILE
    etree.SubElement(sms, f"{{{YYSMS}}}SMSContent").text = TEXT
    etree.SubElement(sms, f"{{{YYSMS}}}ExtNumber").text = ""
    plan = etree.SubElement(sms, f"{{{YYSMS}}}PlanSendTime", nsmap={"xsi": XSI})
    plan.set(f"{{{XSI}}}nil", "true")
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def bench_soap(settings: Settings) -> None:
    """WebService SendSms: zeep's envelope vs the same envelope from lxml directly."""
    from smsgate_ipyy import _soap

    url = BASE_URL + "WebService.asmx"
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{_soap.SOAP_ACTION}"'}

    def baseline() -> httpx.Request:
        return httpx.Request("POST", url, headers=headers, content=lxml_envelope())

    def subject() -> httpx.Request:
        return _soap.build_send_request(
            url=url,
            user_name=ACCOUNT,
            password=PASSWORD,
            mobiles=[MOBILE],
            content=TEXT,
            ext=None,
            plan_send_time=None,
        )

    # The first build loads the WSDL into a process-wide zeep client: timed once, cold.
    _soap._client = None
    started = time.perf_counter_ns()
    first = subject()
    cold_ms = (time.perf_counter_ns() - started) / 1e6
    assert first.content == baseline().content
    assert first.headers["SOAPAction"] == baseline().headers["SOAPAction"]
    report(
        "soap: one WebService.asmx SendSms request (SOAP 1.1)",
        "lxml SubElement envelope + httpx.Request",
        "_soap.build_send_request (zeep)",
        compare(baseline, subject, settings),
        "the zeep cost: serialising through the WSDL's schema types on every call",
    )
    print(f"   one-off: the first build in a process (WSDL load) took {cold_ms:,.1f} ms")


# --- 6. TMS -------------------------------------------------------------------------------------

_SIZE = struct.Struct("<i")


def mms_parts() -> list[tuple[str, bytes]]:
    """A typical MMS: a SMIL layout, a text and a 48 KiB picture."""
    smil = b'<smil><body><par dur="5000ms"><img src="1.jpg"/><text src="1.txt"/></par></body></smil>'
    return [
        ("1.smil", smil),
        ("1.txt", "双十一特惠，全场五折【腾飞】".encode()),
        ("1.jpg", os.urandom(48 * 1024)),
    ]


def bench_tms(settings: Settings) -> None:
    """spec 2.2 TMS pack and unpack vs struct + bytes join / unpack_from."""
    parts = mms_parts()
    blob = _tms.pack(parts)

    def raw_pack() -> bytes:
        return b"".join(name.encode() + b"\0" + _SIZE.pack(len(data)) + data for name, data in parts)

    def raw_unpack() -> list[tuple[str, bytes]]:
        out, pos = [], 0
        while pos < len(blob):
            end = blob.index(b"\0", pos)
            (size,) = _SIZE.unpack_from(blob, end + 1)
            out.append((blob[pos:end].decode(), blob[end + 5 : end + 5 + size]))
            pos = end + 5 + size
        return out

    assert raw_pack() == blob
    assert raw_unpack() == _tms.unpack(blob) == parts
    report(
        f"tms-pack: 3 MMS parts ({len(blob) / 1024:.0f} KiB)",
        "struct.pack + bytes.join",
        "_tms.pack",
        compare(raw_pack, lambda: _tms.pack(parts), settings),
    )
    report(
        f"tms-unpack: the same {len(blob) / 1024:.0f} KiB container",
        "bytes.index + struct.unpack_from",
        "_tms.unpack",
        compare(raw_unpack, lambda: _tms.unpack(blob), settings),
        "the subject also checks every size and name (strict layout)",
    )


BENCHMARKS = ("send-reply", "reports", "batch", "encrypted", "soap", "tms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (fewer, shorter samples)")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these blocks")
    parser.add_argument("--reports", type=int, default=4000, help="items in the status pull")
    parser.add_argument("--batch", type=int, default=1000, help="lines in the batch")
    args = parser.parse_args()
    settings = Settings.from_quick(args.quick)
    chosen = args.only or BENCHMARKS
    started = time.perf_counter()
    runs = {
        "send-reply": lambda: bench_send_reply(settings),
        "reports": lambda: bench_reports(settings, args.reports),
        "batch": lambda: bench_batch(settings, args.batch),
        "encrypted": lambda: bench_encrypted(settings),
        "soap": lambda: bench_soap(settings),
        "tms": lambda: bench_tms(settings),
    }
    for name in BENCHMARKS:
        if name in chosen:
            runs[name]()
    print(f"({time.perf_counter() - started:.1f} s, {settings.repeats} samples per side, medians)")


if __name__ == "__main__":
    main()
