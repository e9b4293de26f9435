"""The send reply's fast path (issue 11) reads exactly what the hardened XML parse reads, and
leaves everything else (refusals, other shapes, hostile documents) to it."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from smsgate.exceptions import MalformedReplyError, ProviderError, SmsGateError
from smsgate_ipyy import _parse

GATEWAY_REPLY = (
    '<?xml version="1.0" encoding="utf-8" ?>\n<returnsms>\n<returnstatus>Success</returnstatus>\n'
    "<message>操作成功</message>\n<remainpoint>999999</remainpoint>\n<taskID>2611251200000001</taskID>\n"
    "<successCounts>1</successCounts>\n</returnsms>"
).encode()


def _reference(body: bytes) -> dict[str, object] | type[SmsGateError]:
    """What the hardened path makes of ``body``: its fields, or the class of its error."""
    try:
        return _parse._accepted_fields(body)
    except SmsGateError as exc:
        return type(exc)


def test_the_gateway_reply_takes_the_fast_path_with_the_same_receipt() -> None:
    fields = _parse._plain_success(GATEWAY_REPLY)
    assert fields == _parse._accepted_fields(GATEWAY_REPLY)
    receipt = _parse.parse_send_reply(GATEWAY_REPLY, provider="ipyy", recipients=["13800138000"])
    assert (receipt.task_id, receipt.accepted, str(receipt.balance)) == ("2611251200000001", 1, "999999")
    assert receipt.raw == fields


@pytest.mark.parametrize(
    "body",
    [
        # refusals and unknown words: the general path raises what they mean
        GATEWAY_REPLY.replace(b"Success", b"Faild"),
        GATEWAY_REPLY.replace(b"Success", b"Pending"),
        # references, comments, CDATA, attributes, namespaces, CR inside a value, BOM, GBK
        GATEWAY_REPLY.replace("操作成功".encode(), b"a &amp; b"),
        GATEWAY_REPLY.replace(b"<message>", b"<!-- x --><message>"),
        GATEWAY_REPLY.replace("操作成功".encode(), b"<![CDATA[x]]>"),
        GATEWAY_REPLY.replace(b"<returnsms>", b'<returnsms a="1">'),
        GATEWAY_REPLY.replace(b"<returnsms>", b'<returnsms xmlns="urn:x">'),
        GATEWAY_REPLY.replace("操作成功".encode(), b"a\r\nb"),
        b"\xef\xbb\xbf" + GATEWAY_REPLY,
        GATEWAY_REPLY.replace(b"utf-8", b"gbk"),
        b'{"returnstatus": "Success", "taskID": "1"}',
    ],
)
def test_other_documents_take_the_hardened_path(body: bytes) -> None:
    assert _parse._plain_success(body) is None


def test_hostile_xml_is_still_refused() -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8" ?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b"<returnsms><returnstatus>Success</returnstatus><taskID>&b;</taskID></returnsms>"
    )
    assert _parse._plain_success(body) is None
    with pytest.raises(MalformedReplyError):
        _parse.parse_send_reply(body, provider="ipyy")


def test_a_refusal_is_the_same_typed_error() -> None:
    body = GATEWAY_REPLY.replace(b"Success", b"Faild").replace(
        "操作成功".encode(), "用户名或密码错误".encode()
    )
    with pytest.raises(ProviderError) as caught:
        _parse.parse_send_reply(body, provider="ipyy")
    with pytest.raises(ProviderError) as expected:
        _parse._accepted_fields(body)
    assert type(caught.value) is type(expected.value)
    assert str(caught.value) == str(expected.value)


_NAMES = st.sampled_from(["returnstatus", "message", "remainpoint", "taskID", "successCounts", "x1"])
_TEXTS = st.one_of(
    st.sampled_from(["Success", "sucess", " Success ", "Faild", "", "1", "T-1", "&amp;", "a>b", "]]>"]),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
)
_SPACE = st.sampled_from(["", "\n", "\r\n", " \t", "\x0c"])
_DECLARATIONS = st.sampled_from(
    [
        '<?xml version="1.0" encoding="utf-8" ?>',
        '<?xml version="1.0" encoding="utf-8"?>',
        '<?xml version="1.0" encoding="UTF-8" ?>',
        "<?xml version='1.0' encoding='utf-8' ?>",
        '<?xml version="1.1" encoding="utf-8" ?>',
        "",
        " ",
    ]
)


@st.composite
def _documents(draw: st.DrawFn) -> bytes:
    fields = draw(st.lists(st.tuples(_NAMES, _TEXTS, _SPACE), max_size=7))
    if draw(st.booleans()):
        fields.insert(0, ("returnstatus", "Success", "\n"))
    inner = "".join(
        f"<{name}/>{space}" if text == "" and draw(st.booleans()) else f"<{name}>{text}</{name}>{space}"
        for name, text, space in fields
    )
    root = draw(st.sampled_from(["returnsms", "returnsms", "other"]))
    text = f"{draw(_DECLARATIONS)}{draw(_SPACE)}<{root}>{draw(_SPACE)}{inner}</{root}>{draw(_SPACE)}"
    return text.encode("utf-8", "surrogatepass")


@given(_documents())
@example(GATEWAY_REPLY)
@example(GATEWAY_REPLY.replace(b"<taskID>", b"<taskID></taskID><taskID>"))
@example(GATEWAY_REPLY.replace("操作成功".encode(), b"\xc2\x85"))
@example(GATEWAY_REPLY.replace("操作成功".encode(), "\ufdd0".encode()))
@example(GATEWAY_REPLY.replace("操作成功".encode(), b"\xff"))
def test_the_fast_path_reads_what_the_hardened_parse_reads(body: bytes) -> None:
    """Wherever the fast path answers, the hardened path gives the very same fields; where
    that path refuses the document, the fast path never answers."""
    fast = _parse._plain_success(body)
    if fast is not None:
        assert fast == _reference(body)
