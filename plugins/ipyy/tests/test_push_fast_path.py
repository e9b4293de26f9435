"""The flat push read without a tree (issue 11) gives exactly what the hardened lxml parse
gives, and leaves everything else (other shapes, refusals, hostile documents) to it.

The reference is :func:`_tree_parse_push`, a frozen copy of ``parse_push`` as it was before
the fast path: every body, generated or written out, must give the same models (every field,
``raw`` with its order, the time's zone) or the same error (type and message)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from smsgate import DeliveryReport, InboundMessage
from smsgate.exceptions import SmsGateError, ValidationError
from smsgate_ipyy import _push
from smsgate_ipyy._parse import R_CALL_BOX, R_ROOT, R_STATUS_BOX, box_fields, inbound_item, report_item
from smsgate_ipyy._xml import XmlError, local_name, parse_xml

from .spec_samples import CALL_XML, STATUS_XML

_TREE_ITEMS: dict[str, Any] = {R_STATUS_BOX: report_item, R_CALL_BOX: inbound_item}


def _tree_parse_push(body: bytes, *, provider: str) -> list[DeliveryReport | InboundMessage]:
    """``parse_push`` before the fast path (frozen copy): the hardened parse, item by item."""
    try:
        root = parse_xml(body)
    except XmlError as exc:
        raise ValidationError(f"not an ipyy push: {exc}") from exc
    if local_name(root) != R_ROOT:
        raise ValidationError(f"not an ipyy push: root is <{local_name(root)}>")
    out: list[DeliveryReport | InboundMessage] = []
    for child in root:
        item = _TREE_ITEMS.get(local_name(child))
        if item is None:
            raise ValidationError(f"not an ipyy push: unexpected <{local_name(child)}>")
        try:
            out.append(item(box_fields(child), provider))
        except ValidationError:
            raise
        except SmsGateError as exc:
            raise ValidationError(f"not an ipyy push: {exc}") from exc
    if not all(item.mobile for item in out):
        raise ValidationError("not an ipyy push: an item has no mobile")
    return out


def _outcome(parse: Any, body: bytes) -> tuple[str, object]:
    """What parsing ``body`` gives: each model's type, fields (``raw`` included, in order, and
    the time's repr, zone and all), or the error's type and message."""
    try:
        models = parse(body, provider="ipyy")
    except SmsGateError as exc:
        return "error", (type(exc), str(exc))
    return "models", [
        (type(m), vars(m), type(m.raw), list(m.raw.items()), repr(m.received_at), repr(m)) for m in models
    ]


def _same(body: bytes) -> bool:
    """``parse_push`` reads ``body`` as the tree did; whether the fast path took it."""
    expected = _outcome(_tree_parse_push, body)
    assert _outcome(_push.parse_push, body) == expected
    fast = _push._flat_push(body, "ipyy")
    if fast is not None:
        assert expected[0] == "models"
    return fast is not None


# --- the pushes the gateway writes -----------------------------------------------------------

DECLARATION = '<?xml version="1.0" encoding="utf-8" ?>'
REPORT_FIELDS = ("mobile", "taskid", "status", "receivetime", "errorcode", "extno")
INBOUND_FIELDS = ("mobile", "taskid", "content", "receivetime", "extno")


def bench_push(n: int) -> bytes:
    """The push benchmarks/run.py's receiver measure sends."""
    return (
        '<?xml version="1.0" encoding="utf-8" ?><returnsms><statusbox>'
        f"<mobile>138{n % 10**8:08d}</mobile><taskid>{2611251200000000 + n}</taskid>"
        "<status>10</status><receivetime>2025-11-26 12:00:00</receivetime>"
        "<errorcode>DELIVRD</errorcode><extno></extno></statusbox></returnsms>"
    ).encode()


# The sandbox's layout (tabs and newlines, sandbox/_state.py).
SANDBOX_PUSH = (
    f"{DECLARATION}\n<returnsms>\n"
    "\t<statusbox>\n\t\t<mobile>13800138000</mobile>\n\t\t<taskid>1504080852350206</taskid>\n"
    "\t\t<status>20</status>\n\t\t<receivetime>2026-04-14 17:47:15</receivetime>\n"
    "\t\t<errorcode>MK:0001</errorcode>\n\t\t<extno>01</extno>\n\t</statusbox>\n"
    "</returnsms>"
).encode()
SANDBOX_CALL_PUSH = (
    f"{DECLARATION}\n<returnsms>\n"
    "\t<callbox>\n\t\t<mobile>13800138000</mobile>\n\t\t<taskid></taskid>\n"
    "\t\t<content> 你好，退订 \n</content>\n\t\t<receivetime>2026-04-14 17:47:15</receivetime>\n"
    "\t\t<extno></extno>\n\t</callbox>\n"
    "</returnsms>"
).encode()
MIXED_PUSH = (
    b"<returnsms><callbox><mobile>13800138000</mobile><content>hi</content></callbox>"
    b"<statusbox><mobile>13800138001</mobile><status>10</status></statusbox></returnsms>"
)
HARNESS_PUSH = (  # wire notes §6: no status field, the code decides
    b"<returnsms><statusbox><mobile>13800138000</mobile><taskid>9</taskid>"
    b"<errorcode>DELIVRD</errorcode><receivetime>2025-11-26 12:00:00</receivetime><extno/>"
    b"</statusbox></returnsms>"
)


_REPORT = (
    "<statusbox><mobile>13800138000</mobile><taskid>1</taskid><status>10</status>"
    "<receivetime>2025-11-26 12:00:00</receivetime><errorcode>DELIVRD</errorcode><extno></extno></statusbox>"
)


def _pushed(inner: str, declaration: str = DECLARATION) -> bytes:
    return f"{declaration}<returnsms>{inner}</returnsms>".encode()


@pytest.mark.parametrize(
    "body",
    [
        bench_push(0),
        bench_push(12345),
        STATUS_XML.encode(),
        CALL_XML.encode(),
        SANDBOX_PUSH,
        SANDBOX_CALL_PUSH,
        MIXED_PUSH,
        HARNESS_PUSH,
        b"<returnsms></returnsms>",
        STATUS_XML.replace('encoding="utf-8" ', "").encode(),
        STATUS_XML.replace('encoding="utf-8" ?', 'encoding="UTF-8"?').encode(),
        STATUS_XML.replace("\n", "\r\n").encode(),
        STATUS_XML.replace("<extno></extno>", "<extno />").encode(),
        CALL_XML.replace("<extno>01</extno>", "<extno/>").encode(),
        # fields of another order or name: the general flat box
        _pushed(_REPORT.replace("<errorcode>", "<content> x </content><errorcode>")),
        _pushed(_REPORT.replace("<status>10</status>", "")),
        STATUS_XML.replace("<mobile>15023239811</mobile>", "")
        .replace("<extno></extno>", "<extno></extno><mobile> 1 </mobile>")
        .encode(),
    ],
)
def test_gateway_pushes_take_the_fast_path_and_read_as_the_tree_reads(body: bytes) -> None:
    assert _push._flat_push(body, "ipyy") is not None
    assert _same(body)


def test_the_bench_push_reads_field_by_field() -> None:
    (report,) = _push.parse_push(bench_push(7), provider="ipyy")
    assert isinstance(report, DeliveryReport)
    assert (report.mobile, report.task_id, report.status, report.vendor_code, report.ext) == (
        "13800000007",
        "2611251200000007",
        "delivered",
        "DELIVRD",
        None,
    )
    assert report.raw == {
        "mobile": "13800000007",
        "taskid": "2611251200000007",
        "status": "10",
        "receivetime": "2025-11-26 12:00:00",
        "errorcode": "DELIVRD",
        "extno": "",
    }


def test_inbound_content_is_kept_as_written_and_other_fields_stripped() -> None:
    (message,) = _push.parse_push(SANDBOX_CALL_PUSH, provider="ipyy")
    assert isinstance(message, InboundMessage)
    assert message.text == " 你好，退订 \n"
    assert message.raw["content"] == " 你好，退订 \n"
    assert message.task_id is None
    assert message.ext is None


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<returnsms><callbox><mobile>1</mobile><content>&lol2;</content></callbox></returnsms>"""


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b" ",
        b"mobile=13800138000&status=10",
        b'{"statusbox":[{"mobile":"13800138000","status":"10"}]}',
        b"<returnsms><statusbox>",
        b"<other/>",
        b"<other></other>",
        b"<returnsms><errorstatus><error>1</error></errorstatus></returnsms>",
        b"<returnsms><statusbox><taskid>1</taskid></statusbox></returnsms>",
        b"<returnsms><statusbox></statusbox></returnsms>",
        b"<returnsms><statusbox><mobile> </mobile></statusbox></returnsms>",
        b"<returnsms><callbox><mobile>\xe3\x80\x80</mobile></callbox></returnsms>",  # U+3000 strips
        _pushed(_REPORT + "<statusbox><mobile></mobile></statusbox>"),
        _pushed(_REPORT + "<status>10</status>"),
        _pushed(_REPORT + "<statusbox/>"),
        _pushed(_REPORT + "<other><mobile>1</mobile></other>"),
        b"\xff\xfe\x00garbage",
        BILLION_LAUGHS,
        _pushed(_REPORT, '<?xml version="1.0"?><!DOCTYPE returnsms SYSTEM "file:///etc/passwd">'),
        _pushed(_REPORT, '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "b">]>'),
        _pushed(_REPORT, '<?xml version="1.0" encoding="utf-7"?>'),
        _pushed(_REPORT, '<?xml version="1.0" encoding="undefined"?>'),
        _pushed(_REPORT, '<?xml version="1.0" encoding="nonesuch"?>'),
        _pushed(_REPORT.replace("DELIVRD", "\x01")),
        _pushed(_REPORT.replace("DELIVRD", "\ufffe")),
        _pushed(_REPORT.replace("DELIVRD", "a]]>b")),
        _pushed(_REPORT.replace("DELIVRD", "&nbsp;")),
        _pushed(_REPORT.replace("</extno>", "</extnox>")),
        _pushed(_REPORT) + b"<returnsms></returnsms>",
        _pushed(_REPORT) + b"\x00",
        _pushed(_REPORT).replace(b"DELIVRD", b"\xed\xa0\x80"),  # an encoded surrogate
        _pushed(_REPORT).replace(b"DELIVRD", b"\xc3"),  # a cut UTF-8 sequence
    ],
)
def test_refused_pushes_are_refused_with_the_same_error(body: bytes) -> None:
    assert _outcome(_tree_parse_push, body)[0] == "error"
    assert _push._flat_push(body, "ipyy") is None
    assert not _same(body)
    with pytest.raises(ValidationError):
        _push.parse_push(body, provider="ipyy")


@pytest.mark.parametrize(
    "body",
    [
        b"<returnsms/>",
        _pushed(_REPORT.replace("DELIVRD", "a &amp; b")),
        _pushed(_REPORT.replace("DELIVRD", "&#20320;")),
        _pushed(_REPORT.replace("DELIVRD", "<![CDATA[x]]>")),
        _pushed(_REPORT.replace("DELIVRD", "a\r\nb")),
        _pushed(_REPORT.replace("DELIVRD", "a > b")),
        _pushed(_REPORT.replace("<status>", "<!-- c --><status>")),
        _pushed(_REPORT.replace("<status>", "<?pi x?><status>")),
        _pushed(_REPORT.replace("<statusbox>", '<statusbox a="1">')),
        _pushed(_REPORT.replace("<taskid>1</taskid>", "<taskid>1</taskid><taskid>2</taskid>")),
        _pushed(_REPORT).replace(b"<returnsms>", b'<returnsms xmlns="urn:x">'),
        _pushed(_REPORT)
        .replace(b"<returnsms>", b"<x:returnsms xmlns:x='u'>")
        .replace(b"</returnsms>", b"</x:returnsms>"),
        b"\xef\xbb\xbf" + _pushed(_REPORT),
        b" \n" + _pushed(_REPORT),
        _pushed(_REPORT, "<?xml version='1.0' encoding='utf-8'?>"),
        _pushed(_REPORT, '<?xml version="1.0" encoding="utf-8" standalone="yes"?>'),
        _pushed(_REPORT, '<?xml version="1.0" encoding="latin-1"?>'),
        _pushed(_REPORT.replace("DELIVRD", "中文"), '<?xml version="1.0" encoding="gb2312"?>')
        .decode()
        .encode("gb18030"),
        _pushed(_REPORT, '<?xml version="1.0" encoding="utf-16"?>').decode().encode("utf-16"),
    ],
)
def test_other_pushes_are_left_to_the_tree(body: bytes) -> None:
    assert _push._flat_push(body, "ipyy") is None
    _same(body)


# --- generated pushes ------------------------------------------------------------------------

_CLEAN_NAMES = st.sampled_from([*REPORT_FIELDS, "content", "x_1", "xmlx", "Z9", "statusbox", "callbox"])
_ROUGH_NAMES = st.one_of(
    _CLEAN_NAMES, st.sampled_from(["returnsms", "a:b", "é", "1a", "_a", "a.b", "a-b", "A" * 70])
)
_VALUES = {
    "mobile": ["13800138000", "13800138000", " 13800138000 ", "\n1\t", "", " ", "\u3000", "\x85", "1"],
    "status": ["10", "20", " 10 ", "", "30", "abc", "１０"],
    "errorcode": ["DELIVRD", "delivrd", " DELIVRD ", "", "2", "MK:0001", "UNDELIV"],
    "receivetime": [
        "2025-11-26 12:00:00",
        " 2025-11-26 12:00:00 ",
        "2025/11/26 12:00:00",
        "2025-11-26T12:00:00",
        "2025-11-26 12:00:00.5",
        "2025-02-30 12:00:00",
        "0001-01-01 00:00:00",
        "0001/1/1 0:00:00",
        "0001-01-02 00:00:00",
        "2025-1-2 3:04:05",
        "２０２５-11-26 12:00:00",
        "",
        "x",
    ],
    "content": ["你好", " 你好 \n", "", "  ", "\t", "\n\n", "a b", "\U0001f600", "\x85x\u3000"],
}
_CLEAN_TEXTS = st.one_of(
    st.sampled_from(["13800138000", " 10 ", "", "  ", "\n", "DELIVRD", "你好", "\t x\t", "\x7f", "\ufdd0"]),
    st.text(
        st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"), exclude_characters="<>&\ufffe\uffff"),
        max_size=8,
    ),
)
_ROUGH_TEXTS = st.one_of(
    _CLEAN_TEXTS,
    st.sampled_from(
        [
            *("a\r\nb", "\r", "a &amp; b", "&#13;", "&#x1;", "&lt;", "&apos;", "<![CDATA[x]]>", "<!-- c -->"),
            *("<?pi x?>", "a > b", "]]>", "\x01", "\x0c", "\x1f", "\ufffe", "\uffff", "<b>x</b>", "\x00"),
        ]
    ),
    st.text(max_size=8),
)
_CLEAN_SPACES = st.sampled_from(["", "", " ", "\n", "\r\n", "\t", "\r", "\n\t\t"])
_ROUGH_SPACES = st.sampled_from(["\x0c", "\u3000", "\xa0", "\x85", "x", "\x1c"])
_CLEAN_DECLARATIONS = [
    "",
    DECLARATION,
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<?xml version="1.0" encoding="Utf-8"?>',
    '<?xml version="1.0"?>',
    '<?xml version="1.0" ?>',
    "<?xml version='1.0' encoding='gb2312' ?>",
    '<?xml version="1.0" encoding="us-ascii"?>',
    '<?xml version="1.0" encoding="latin-1"?>',
    '<?xml version="1.1" encoding="utf-8"?>',
]
_ROUGH_DECLARATIONS = [
    '<?xml version="1.0" encoding="utf-16"?>',
    '<?xml version="1.0" encoding="undefined"?>',
    "<?xml junk ?>",
    "<?xml?>",
    f"{DECLARATION}{DECLARATION}",
    "<!DOCTYPE returnsms>",
    '<!DOCTYPE r [<!ENTITY a "b">]>',
    "<!-- c -->",
    "<?pi?>",
]
_FLAWS = [
    *("\r", "\r\n", "&amp;", "&#13;", "&lt;", "\x0c", "\x01", "\x00", "\x85", "\u3000", "\ufffe"),
    *("\uffff", "\ud800", ">", "]]>", "<!-- c -->", "<![CDATA[x]]>", "<?pi?>", "<a/>", "<a>1</a>"),
    *("</a>", "<", "/", " ", "x", ":", "é", "<mobile>1</mobile>", "<statusbox/>", "<callbox></callbox>"),
]


def _rarely(draw: st.DrawFn, rough: bool) -> bool:
    """True now and then in a rough push, never in a clean one."""
    return rough and draw(st.integers(0, 3)) == 0


@st.composite
def _field(draw: st.DrawFn, name: str, rough: bool, gateway: bool) -> str:
    if gateway and name == "mobile":  # every item the gateway pushes has one
        mobile = draw(st.sampled_from(["13800138000", " 13800138000 ", "\n1\t", "1", "+86 1"]))
        return f"<mobile>{mobile}</mobile>"
    known = _VALUES.get(name)
    text = draw(st.sampled_from(known)) if known and draw(st.integers(0, 3)) else ""
    if not known or (not text and draw(st.booleans())):
        text = draw(_ROUGH_TEXTS if rough else _CLEAN_TEXTS)
    forms = ["plain"] * 10 + ["empty", "empty_space"]
    if rough:
        forms += ["wrong_close", "attribute", "open_space", "empty_spaces"]
    return {
        "plain": f"<{name}>{text}</{name}>",
        "empty": f"<{name}/>",
        "empty_space": f"<{name} />",
        "empty_spaces": f"<{name}\n />",
        "wrong_close": f"<{name}>{text}</{name}x>",
        "attribute": f'<{name} a="1">{text}</{name}>',
        "open_space": f"<{name} >{text}</{name} >",
    }[draw(st.sampled_from(forms))]


@st.composite
def _box(draw: st.DrawFn, rough: bool, gateway: bool) -> str:
    tag = draw(st.sampled_from([R_STATUS_BOX, R_CALL_BOX]))
    if _rarely(draw, rough):
        tag = draw(st.sampled_from(["other", "statusbox a='1'", "ns:callbox", "returnstatus"]))
    own = list(REPORT_FIELDS if tag == R_STATUS_BOX else INBOUND_FIELDS)
    names = draw(
        st.one_of(
            st.just(own),
            st.just(own),
            st.just(list(INBOUND_FIELDS if tag == R_STATUS_BOX else REPORT_FIELDS)),
            st.permutations(own),
            st.lists(_CLEAN_NAMES, max_size=7).map(lambda names: ["mobile", *names]),
            st.lists(_ROUGH_NAMES if rough else _CLEAN_NAMES, max_size=7),
        )
    )
    space = draw(_CLEAN_SPACES)
    if _rarely(draw, rough):
        space = draw(_ROUGH_SPACES)
    fields = [draw(_field(name, rough, gateway)) for name in names]
    if _rarely(draw, rough):
        fields.insert(
            draw(st.integers(0, len(fields))),
            draw(st.sampled_from(["<!-- c -->", "<?pi?>", "x", "<a><b/></a>", "&amp;"])),
        )
    if not fields and draw(st.booleans()):
        return f"<{tag}/>"
    return f"<{tag}>{space}" + space.join(fields) + f"{space}</{tag.split(' ', 1)[0]}>"


@st.composite
def _pushes(draw: st.DrawFn) -> bytes:
    """A push body: as the gateway writes it (UTF-8 or no declaration, items with a mobile),
    clean (every part in the fast grammar, boxes of any kind, order and fields, any
    declaration) or rough (now and then a part outside it: markup, references, CR, names,
    bytes …), with or without one flaw."""
    mode = draw(
        st.sampled_from(["gateway", "gateway", "gateway", "clean", "clean", "one flaw", "one flaw", "rough"])
    )
    rough = mode == "rough"
    space = draw(_CLEAN_SPACES)
    boxes = [draw(_box(rough, mode == "gateway")) for _ in range(draw(st.integers(0, 4)))]
    root = "returnsms"
    if _rarely(draw, rough):
        root = draw(
            st.sampled_from(['returnsms xmlns="urn:x"', "ns:returnsms xmlns:ns='u'", "other", "returnsms "])
        )
    inner = space + space.join(boxes) + space
    document = f"<{root}>{inner}</{root.split(' ', 1)[0]}>" if inner or draw(st.booleans()) else f"<{root}/>"
    declaration = draw(st.sampled_from(_CLEAN_DECLARATIONS + (_ROUGH_DECLARATIONS if rough else [])))
    lead = draw(st.sampled_from(["", "", "", "\n", "\ufeff", " \r\n"]))
    if mode == "gateway":  # what the gateway writes: the fast path's declarations, nothing before
        declaration = draw(st.sampled_from(_CLEAN_DECLARATIONS[:6]))
        lead = ""
    text = lead + declaration + draw(_CLEAN_SPACES) + document + draw(st.sampled_from(["", "\n", "\r\n"]))
    if mode == "one flaw":  # one snippet after a ">" (in a text or between elements), or anywhere
        ends = [at + 1 for at, char in enumerate(text) if char == ">"]
        ends += [at + 1 for at in ends if text[at : at + 1] not in ("", "<")]
        at = draw(st.sampled_from(ends) | st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(_FLAWS)) + text[at:]
    if _rarely(draw, rough):
        text = draw(st.sampled_from(["\x1c", "\ufeff\ufeff", "x", "{"])) + text
    if _rarely(draw, rough):
        text += draw(st.sampled_from(["<returnsms></returnsms>", "x", "<!-- c -->", "\x00", "<?pi?>"]))
    codec = "utf-8"
    if "gb2312" in declaration and draw(st.booleans()):
        codec = "gb18030"
    elif _rarely(draw, rough) or ("latin-1" in declaration and draw(st.booleans())):
        codec = draw(st.sampled_from(["utf-16", "latin-1"]))
    body = text.encode(codec, "replace") if codec != "utf-8" else text.encode(codec, "surrogatepass")
    if _rarely(draw, rough):  # a byte replaced, or the body cut short
        at = draw(st.integers(0, len(body)))
        body = (
            body[:at] + bytes([draw(st.integers(0, 255))]) + body[at + 1 :]
            if draw(st.booleans())
            else body[:at]
        )
    return body


@settings(max_examples=500, deadline=None)
@given(_pushes())
@example(bench_push(3))
@example(STATUS_XML.encode())
@example(CALL_XML.encode())
@example(MIXED_PUSH)
@example(b"<returnsms><statusbox><statusbox>1</statusbox></statusbox></returnsms>")
@example(
    b"<returnsms><callbox><mobile>1</mobile><content> \n </content><content>x</content></callbox></returnsms>"
)
def test_the_fast_path_reads_what_the_tree_reads(body: bytes) -> None:
    event(f"fast path taken: {_same(body)}")


@st.composite
def _flawed_gateway_pushes(draw: st.DrawFn) -> bytes:
    """A push in the gateway's layout (which takes the fast path) with one flaw in it: in a
    text, between elements, or anywhere."""
    text = draw(
        st.sampled_from([bench_push(1).decode(), SANDBOX_PUSH.decode(), SANDBOX_CALL_PUSH.decode(), CALL_XML])
    )
    ends = [at + 1 for at, char in enumerate(text) if char == ">"]
    inside = [at + 1 for at in ends if text[at : at + 1] not in ("", "<")]
    at = draw(st.sampled_from(ends) | st.sampled_from(inside) | st.integers(0, len(text)))
    flawed = text[:at] + draw(st.sampled_from(_FLAWS)) + text[at:]
    return flawed.encode("utf-8", "surrogatepass")


@settings(max_examples=400, deadline=None)
@given(_flawed_gateway_pushes())
def test_one_flaw_in_a_gateway_push_reads_as_the_tree_reads(body: bytes) -> None:
    _same(body)


def test_a_large_flat_push_is_read_in_linear_time() -> None:
    """Long runs the grammar must not backtrack over: read (or left to the tree) at once."""
    boxes = _REPORT * 2000
    assert len(_push.parse_push(_pushed(boxes), provider="ipyy")) == 2000
    for body in (
        _pushed(_REPORT.replace("DELIVRD", " " * 200_000 + "x")),
        _pushed(_REPORT.replace("<extno></extno>", "<extno>" + "a" * 200_000 + "</extnoo>")),
        _pushed(boxes + "<statusbox>" + "<a>1</a>" * 20_000 + "<b>"),
    ):
        assert _same(body) is (b"</extnoo>" not in body and b"<b>" not in body)
