"""The hardened ``parse_xml`` without its per-call costs (issue 11): one parser per thread, and
ASCII bodies read as UTF-8 handed to lxml without decoding and re-encoding. It parses exactly
what the decode-everything version parsed, and refuses exactly what it refused."""

from __future__ import annotations

import re
import threading

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lxml import etree

from smsgate_ipyy import _xml
from smsgate_ipyy._xml import XmlError, decode_body, parse_xml


def _old_parse_xml(body: bytes, default_encoding: str = "utf-8") -> etree._Element:
    """parse_xml as it was: a new parser per call, the whole body decoded and re-encoded."""
    if _xml._declares_dtd_or_entity(body):
        raise XmlError("the document declares a DTD or entity; refused")
    text = decode_body(body, default_encoding)
    text = re.sub(r"\A\s*<\?xml\b[^>]*?\?>", "", text, flags=re.IGNORECASE).lstrip("\ufeff")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise XmlError("the body decodes to text that is not Unicode") from exc
    if _xml._declares_dtd_or_entity(data):
        raise XmlError("the document declares a DTD or entity; refused")
    try:
        return etree.fromstring(data, _xml._new_parser())
    except etree.XMLSyntaxError as exc:
        raise XmlError(f"not well-formed XML ({exc.msg})") from exc


def _outcome(parse: object, body: bytes, encoding: str) -> tuple[str, object]:
    try:
        root = parse(body, encoding)  # type: ignore[operator]
    except XmlError as exc:
        return "refused", str(exc)
    return "parsed", etree.tostring(root, encoding="unicode")


_DECLARATIONS = [
    "",
    '<?xml version="1.0" encoding="utf-8" ?>',
    "<?xml version='1.0' encoding='UTF-8'?>",
    '<?xml version="1.0" encoding="us-ascii"?>',
    '<?xml version="1.0" encoding="gb2312" ?>',
    '<?xml version="1.0"?>',
    '<?XML version="1.0" encoding="utf8"?>',
    "<?xml junk ?>",
    '<?xml version="1.0" encoding="latin-1"?>',
    '<?xml version="1.0" encoding="utf-16"?>',
]
_LEADS = ["", " ", "\n", "\x1c", "\x1f ", "\ufeff", "\u3000", "\x85"]
_TEXTS = st.sampled_from(["13800138000", " 10 ", "", "成功", "a&amp;b", "<![CDATA[x]]>", "&#x1;", "é"])


@st.composite
def _bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    boxes = "".join(
        f"<statusbox><mobile>{draw(_TEXTS)}</mobile><extno>{draw(_TEXTS)}</extno></statusbox>"
        for _ in range(draw(st.integers(0, 3)))
    )
    text = (
        draw(st.sampled_from(_LEADS))
        + draw(st.sampled_from(_DECLARATIONS))
        + draw(st.sampled_from(["", "\n", "\ufeff", "<!DOCTYPE x>", "<!-- c -->"]))
        + f"<returnsms>{boxes}</returnsms>"
        + draw(st.sampled_from(["", "\n", "<x/>", "<!ENTITY e 'x'>"]))
    )
    codec = draw(st.sampled_from(["utf-8", "gb18030", "utf-8-sig", "latin-1"]))
    body = text.encode(codec, errors="replace")
    if draw(st.booleans()):  # a byte or two swapped for anything
        for _ in range(draw(st.integers(1, 2))):
            at = draw(st.integers(0, len(body)))
            body = body[:at] + bytes([draw(st.integers(0, 255))]) + body[at + 1 :]
    return body, draw(st.sampled_from(["utf-8", "gbk", "ascii", "UTF-8"]))


@settings(max_examples=400)
@given(_bodies())
@example((b'\x1c<?xml version="1.0" encoding="utf-8"?><returnsms/>', "utf-8"))
@example((b'<?xml version="1.0" encoding="ascii"?>\n<returnsms><a> x </a></returnsms>', "utf-8"))
@example((b"<?xml version='1.0' encoding='gb2312' ?><returnsms>\xb3\xc9</returnsms>", "utf-8"))
def test_parse_xml_parses_and_refuses_what_the_decoding_version_did(case: tuple[bytes, str]) -> None:
    body, encoding = case
    assert _outcome(parse_xml, body, encoding) == _outcome(_old_parse_xml, body, encoding)


def test_each_thread_keeps_its_own_parser() -> None:
    """lxml parsers are not thread-safe: one per thread, made once and reused."""
    mine = _xml._parser()
    assert _xml._parser() is mine
    theirs: list[etree.XMLParser] = []
    worker = threading.Thread(target=lambda: theirs.append(_xml._parser()))
    worker.start()
    worker.join()
    assert len(theirs) == 1
    assert theirs[0] is not mine


def test_the_reused_parser_still_refuses_hostile_documents_after_a_good_one() -> None:
    parse_xml(b"<returnsms><a>1</a></returnsms>")
    for hostile in (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;</r>',
        b"<r>&undefined;</r>",
        b"<r>" * 300 + b"</r>" * 300,
    ):
        with pytest.raises(XmlError):
            parse_xml(hostile)
    assert parse_xml(b"<returnsms><a> 1 </a></returnsms>")[0].text == " 1 "
