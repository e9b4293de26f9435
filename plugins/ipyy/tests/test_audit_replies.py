"""Audit of the ipyy reply parsers' fast paths (the plain send reply, orjson for JSON) from
the public API, over a real loopback server: hostile and odd replies served to every
operation on every transport give a model or an smsgate error (never a raw ``ValueError``,
``UnicodeError``, lxml error or ``KeyError``), a send whose reply came is never "not sent",
both paths read the replies they share alike, and no secret shows in an error, its frames'
locals, a log record (``httpx``/``httpcore`` included, at DEBUG) or a repr.
"""

from __future__ import annotations

import hashlib
import http.server
import logging
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import smsgate
from smsgate import exceptions as errors
from smsgate.testing import frames_with_secrets
from smsgate_ipyy import _parse

PASSWORD = "audit-Pw-71d2"
USERID = "1234"
SECRETS = [
    PASSWORD,
    hashlib.md5(PASSWORD.encode()).hexdigest().upper(),  # the wire's own digest
    hashlib.md5(PASSWORD.encode()).hexdigest(),
]

OK_XML = (
    '<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>\n<returnstatus>Success</returnstatus>\n'
    "<message>操作成功</message>\n<remainpoint>16</remainpoint>\n<taskID>T-1</taskID>\n"
    "<successCounts>1</successCounts>\n</returnsms>"
)
LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    + "]><returnsms><returnstatus>Success</returnstatus><taskID>&lol9;</taskID></returnsms>"
).encode()
EXTERNAL = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<returnsms><returnstatus>Success</returnstatus><taskID>&x;</taskID></returnsms>"
)
STATUSBOX = (
    "<statusbox><mobile>{m}</mobile><taskid>{t}</taskid><status>{s}</status>"
    "<receivetime>{r}</receivetime><errorcode>{c}</errorcode></statusbox>"
)
CALLBOX = (
    "<callbox><mobile>{m}</mobile><taskid>{t}</taskid><content>{x}</content>"
    "<receivetime>{r}</receivetime><extno>{e}</extno></callbox>"
)


def _xml(inner: str, declaration: str = '<?xml version="1.0" encoding="utf-8" ?>') -> bytes:
    return f"{declaration}<returnsms>{inner}</returnsms>".encode()


#: Replies every operation is fed: odd encodings, references, hostile documents, absurd
#: numbers, JSON corner cases, pull items with broken fields.
CORPUS: dict[str, bytes] = {
    "empty": b"",
    "spaces": b" \r\n\t",
    "plain-ok": OK_XML.encode(),
    "bom-ok": b"\xef\xbb\xbf" + OK_XML.encode(),
    "double-bom": b"\xef\xbb\xbf\xef\xbb\xbf" + OK_XML.encode(),
    "gbk-declared-gbk-bytes": OK_XML.replace("utf-8", "gbk").encode("gbk"),
    "gbk-declared-utf8-bytes": OK_XML.replace("utf-8", "gbk").encode(),
    "utf16-declared-ascii": OK_XML.replace("utf-8", "utf-16").replace("操作成功", "ok").encode(),
    "utf16-bytes": OK_XML.replace("utf-8", "utf-16").encode("utf-16"),
    "bogus-encoding": OK_XML.replace("utf-8", "x-no-such").encode(),
    "codec-not-charset": OK_XML.replace("utf-8", "base64").replace("操作成功", "ok").encode(),
    "rot13": OK_XML.replace("utf-8", "rot13").replace("操作成功", "ok").encode(),
    "invalid-utf8": OK_XML.encode().replace("操作成功".encode(), b"\xff\xfe\xc0\xaf"),
    "amp-task": OK_XML.replace("T-1", "T&amp;1").encode(),
    "cdata-task": OK_XML.replace("T-1", "<![CDATA[T-1]]>").encode(),
    "charref-task": OK_XML.replace("T-1", "&#84;-1").encode(),
    "bad-charref": OK_XML.replace("T-1", "&#0;").encode(),
    "surrogate-charref": OK_XML.replace("T-1", "&#xD800;").encode(),
    "duplicate-task": OK_XML.replace(
        "<taskID>T-1</taskID>", "<taskID>T-1</taskID><taskID>T-2</taskID>"
    ).encode(),
    "empty-task-then-task": OK_XML.replace(
        "<taskID>T-1</taskID>", "<taskID></taskID><taskID>T-2</taskID>"
    ).encode(),
    "crlf-everywhere": OK_XML.replace("\n", "\r\n").replace("T-1", "\r\nT-1\r\n").encode(),
    "unicode-spaces": OK_XML.replace("T-1", "\u3000\xa0T-1\u2028").encode(),
    "nel-in-task": OK_XML.replace("T-1", "T\x85-1").encode(),
    "control-in-task": OK_XML.replace("T-1", "T\x01-1").encode(),
    "huge-count": OK_XML.replace("<successCounts>1", "<successCounts>" + "9" * 40).encode(),
    "negative-count": OK_XML.replace("<successCounts>1", "<successCounts>-5").encode(),
    "nan-balance": OK_XML.replace("<remainpoint>16", "<remainpoint>NaN").encode(),
    "snan-balance": OK_XML.replace("<remainpoint>16", "<remainpoint>sNaN").encode(),
    "huge-exp-balance": OK_XML.replace("<remainpoint>16", "<remainpoint>1E+1000000").encode(),
    "padded-over-fast-limit": OK_XML.replace("操作成功", "x" * 3000).encode(),
    "attribute": OK_XML.replace("<returnsms>", '<returnsms a="1">').encode(),
    "namespace": OK_XML.replace("<returnsms>", '<returnsms xmlns="urn:x">').encode(),
    "prefixed": OK_XML.replace("<returnsms>", '<p:returnsms xmlns:p="urn:x">')
    .replace("</returnsms>", "</p:returnsms>")
    .encode(),
    "other-root": OK_XML.replace("returnsms", "other").encode(),
    "unclosed": OK_XML.encode()[:-5],
    "laughs": LAUGHS,
    "external-entity": EXTERNAL,
    "doctype-only": b'<?xml version="1.0"?><!DOCTYPE returnsms><returnsms/>',
    "lower-doctype": b"<!doctype returnsms><returnsms/>",
    "processing-instruction": OK_XML.replace(
        "<returnsms>", '<?xml-stylesheet href="x"?><returnsms>'
    ).encode(),
    "deep-xml": b"<returnsms>" + b"<a>" * 3000 + b"</a>" * 3000 + b"</returnsms>",
    "faild": OK_XML.replace("Success", "Faild").replace("操作成功", "用户名或密码错误").encode(),
    "faild-unknown": OK_XML.replace("Success", "Faild").replace("操作成功", "??").encode(),
    "unknown-word": OK_XML.replace("Success", "Pending").encode(),
    "errorstatus": _xml("<errorstatus><error>9999</error><remark>x</remark></errorstatus>"),
    "reports-odd": _xml(
        STATUSBOX.format(m="13800138000", t="1", s="10", r="2026-13-45 99:99:99", c="DELIVRD")
        + STATUSBOX.format(m="", t="", s="", r="", c="")
        + STATUSBOX.format(m="x" * 200, t="2", s="99", r="99999-01-01 00:00:00", c="&amp;")
        + STATUSBOX.format(m="13800138000", t="3", s="20", r="0001-01-01 00:00:00", c="UNDELIV")
    ),
    "inbound-odd": _xml(
        CALLBOX.format(m="13800138000", t="1", x="  spaced\r\n  ", r="2026-02-30 10:00:00", e="")
        + CALLBOX.format(m="", t="", x="", r="", e="")
        + CALLBOX.format(m="13800138000", t="", x="<![CDATA[<b>]]>", r="2026/1/1 0:00:00", e="9" * 40)
    ),
    "json-ok": (
        b'{"returnstatus":"Success","message":"ok","remainpoint":"16","taskID":"T-1","successCounts":"1"}'
    ),
    "json-numbers": (
        b'{"returnstatus":"Success","remainpoint":1e400,"taskID":123456789012345678901,"successCounts":1.5}'
    ),
    "json-nan": b'{"returnstatus":"Success","remainpoint":NaN,"taskID":"T-1","successCounts":Infinity}',
    "json-duplicate": b'{"returnstatus":"Faild","returnstatus":"Success","taskID":"T-1","taskID":"T-2"}',
    "json-lone-surrogate": b'{"returnstatus":"Success","taskID":"T\\ud800","message":"\\udc00"}',
    "json-bom": b'\xef\xbb\xbf{"returnstatus":"Success","taskID":"T-1"}',
    "json-types": b'{"returnstatus":["Success"],"taskID":{"a":1},"successCounts":true,"remainpoint":null}',
    "json-not-object": b"[1,2,3]",
    "json-deep": b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}",
    "json-truncated": b'{"returnstatus":"Succ',
    "json-reports-odd": (
        b'{"statusbox":[{"mobile":13800138000,"taskid":null,"receivetime":"2026-13-01 00:00:00",'
        b'"errorcode":["x"]},{"mobile":"\\ud800","taskid":"1","receivetime":5,"errorcode":"DELIVRD"},7]}'
    ),
    "json-reports-not-list": b'{"statusbox":{"mobile":"13800138000"}}',
    "json-inbound-odd": (
        b'{"callbox":[{"mobile":"13800138000","taskid":1e400,"content":NaN,'
        b'"receivetime":"0001/1/1 0:00:00","extno":[1]},{}]}'
    ),
    "json-error": b'{"error":"9999","remark":"x"}',
    "soap-garbage": (
        b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/'
        b'soap/envelope/"><soap:Body><SendSmsResponse xmlns="http://www.yysms.com/"><SendSmsResult>'
        b"<StatusCode>NaN</StatusCode><MsgId>&amp;</MsgId></SendSmsResult></SendSmsResponse>"
        b"</soap:Body></soap:Envelope>"
    ),
    "soap-fault": (
        b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/'
        b'soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Server</faultcode>'
        b"<faultstring>boom</faultstring></soap:Fault></soap:Body></soap:Envelope>"
    ),
}


class ReplyServer:
    """A loopback HTTP server answering every request with ``body`` (status ``status``)."""

    def __init__(self) -> None:
        self.body = b""
        self.status = 200
        self.requests = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests += 1
                self.send_response(server.status)
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture(scope="module")
def replies() -> Iterator[ReplyServer]:
    server = ReplyServer()
    yield server
    server.close()


def _provider(url: str, transport: str) -> smsgate.Provider:
    return smsgate.get_provider(
        "ipyy",
        account="acct",
        password=PASSWORD,
        userid=USERID,
        base_url=url,
        transport=transport,
        timeout=5.0,
    )


OPERATIONS: dict[str, Callable[[smsgate.Gateway], object]] = {
    "send": lambda gw: gw.send(smsgate.Sms(to="13800138000", text="您的验证码：1439【腾飞】")),
    "balance": lambda gw: gw.balance(),
    "fetch_reports": lambda gw: gw.fetch_reports(),
    "fetch_inbound": lambda gw: gw.fetch_inbound(),
}


def _secret_free(error: BaseException, *, render: bool) -> list[str]:
    """Where a secret shows: the error's text and repr, its frames' locals, and (``render``)
    the whole traceback rendered with locals (as error reporters capture it)."""
    found = [f"frame {where}" for where in frames_with_secrets(error, SECRETS)]
    texts = [(str(error), "str"), (repr(error), "repr")]
    if render:
        rendered = traceback.TracebackException.from_exception(error, capture_locals=True).format()
        texts.append(("".join(rendered), "traceback with locals"))
    for text, what in texts:
        found += [what for secret in SECRETS if secret in text]
    return found


@pytest.mark.parametrize("transport", ["form", "gbk", "json", "encrypted", "soap"])
def test_every_reply_gives_a_model_or_an_smsgate_error_and_no_secret(
    replies: ReplyServer, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "smsgate", "smsgate.ipyy", "smsgate.transport"):
        caplog.set_level(logging.DEBUG, logger=name)
    provider = _provider(replies.url, transport)
    escaped: list[str] = []
    not_sent: list[str] = []
    leaks: list[str] = []
    rendered: set[tuple[str, type[BaseException]]] = set()
    with smsgate.Gateway(
        provider,
        retry=smsgate.RetryPolicy(attempts=1),
        breaker=smsgate.BreakerPolicy.off(),
        sleep=lambda _s: None,
    ) as gw:
        for status in (200, 500):
            replies.status = status
            for name, body in CORPUS.items():
                replies.body = body
                for operation, call in OPERATIONS.items():
                    try:
                        call(gw)
                    except errors.SmsGateError as error:
                        if operation == "send" and isinstance(error, errors.NotSentError):
                            not_sent.append(f"{status} {name}")
                        kind = (operation, type(error))
                        found = _secret_free(error, render=kind not in rendered)
                        rendered.add(kind)
                        leaks += [f"{status} {name} {operation}: {w}" for w in found]
                    except Exception as error:  # what the audit looks for
                        escaped.append(f"{status} {name} {operation}: {error!r}")
        for text in (repr(gw), repr(provider), str(provider)):
            leaks += [f"repr: {text}" for secret in SECRETS if secret in text]
    assert escaped == []
    assert not_sent == []
    assert leaks == []
    logged = [f"{r.name}: {r.getMessage()}" for r in caplog.records]
    assert [line for line in logged if any(secret in line for secret in SECRETS)] == []


@pytest.mark.parametrize("name", [name for name in CORPUS if not name.startswith(("json", "soap"))])
def test_the_plain_send_path_reads_what_the_hardened_parse_reads(name: str) -> None:
    """Where the send reply's fast path answers, the hardened parse gives the same fields;
    every reply gives the same receipt (or error class) as the hardened parse alone would."""
    body = CORPUS[name]
    fast = _parse._plain_success(body)
    try:
        hardened: object = _parse._accepted_fields(body)
    except errors.SmsGateError as exc:
        hardened = type(exc)
    if fast is not None:
        assert fast == hardened
    try:
        receipt: object = _parse.parse_send_reply(body, provider="ipyy", recipients=["13800138000"])
        assert isinstance(hardened, dict)
    except errors.SmsGateError as exc:
        receipt = type(exc)
    if isinstance(receipt, smsgate.Receipt):
        assert isinstance(hardened, dict)
        assert receipt.task_id == str(hardened["taskID"]).strip()
    else:
        assert isinstance(receipt, type)
        assert issubclass(receipt, errors.SmsGateError)


def test_a_gbk_reply_on_the_gbk_transport_is_read(replies: ReplyServer) -> None:
    replies.status = 200
    replies.body = CORPUS["gbk-declared-gbk-bytes"]
    with smsgate.Gateway(_provider(replies.url, "gbk")) as gw:
        receipt = gw.send(smsgate.Sms(to="13800138000", text="您的验证码：1439【腾飞】"))
    assert (receipt.task_id, receipt.accepted) == ("T-1", 1)


@pytest.mark.parametrize(
    ("name", "task"),
    [("amp-task", "T&1"), ("cdata-task", "T-1"), ("charref-task", "T-1"), ("bom-ok", "T-1"),
     ("duplicate-task", "T-1"), ("crlf-everywhere", "T-1"), ("unicode-spaces", "T-1")],
)  # fmt: skip
def test_odd_but_valid_success_replies_give_the_task_the_document_holds(
    replies: ReplyServer, name: str, task: str
) -> None:
    replies.status = 200
    replies.body = CORPUS[name]
    with smsgate.Gateway(_provider(replies.url, "form")) as gw:
        assert gw.send(smsgate.Sms(to="13800138000", text="您的验证码：1439【腾飞】")).task_id == task


@pytest.mark.parametrize("name", ["laughs", "external-entity", "doctype-only", "lower-doctype", "deep-xml"])
def test_hostile_xml_replies_are_malformed_and_uncertain(replies: ReplyServer, name: str) -> None:
    replies.status = 200
    replies.body = CORPUS[name]
    with (
        smsgate.Gateway(_provider(replies.url, "form"), retry=smsgate.RetryPolicy(attempts=3)) as gw,
        pytest.raises(errors.MalformedReplyError) as caught,
    ):
        gw.send(smsgate.Sms(to="13800138000", text="您的验证码：1439【腾飞】"))
    assert not caught.value.failover_safe
    assert "root:" not in str(caught.value)  # /etc/passwd never read into the error


def test_a_pulled_message_with_a_lone_surrogate_is_kept_and_journalled(
    replies: ReplyServer, tmp_path: Any
) -> None:
    """A JSON pull holding an unpaired ``\\ud800`` escape: the message comes back with the
    broken character as U+FFFD, and the receiver journals it (it raised a raw
    UnicodeEncodeError; a pull is taken off the vendor when read, so it would have been lost)."""
    from smsgate.receiver import Receiver

    replies.status = 200
    replies.body = (
        b'{"callbox":[{"mobile":"13800138000","taskid":"1","content":"a\\ud800b",'
        b'"receivetime":"2026-12-01 10:00:00","extno":""}]}'
    )
    provider = _provider(replies.url, "json")
    with smsgate.Gateway(provider) as gw:
        (message,) = gw.fetch_inbound()
    assert message.text == "a\ufffdb"
    with Receiver(provider, journal=str(tmp_path / "journal.sqlite3")) as receiver:
        receiver.store_pulled([message])
        assert [entry.event.text for entry in receiver.journal.entries()] == ["a\ufffdb"]
