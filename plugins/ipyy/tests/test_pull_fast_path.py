"""The flat XML pull read without a tree (issue 11) gives exactly what the hardened lxml walk
gives, and leaves everything else (other shapes, refusals, hostile documents) to it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from smsgate.exceptions import MalformedReplyError, SmsGateError
from smsgate_ipyy import _flatxml, _parse, _xml
from smsgate_ipyy._xml import XmlError, document_bytes, local_name

REPORT_FIELDS = ("mobile", "taskid", "status", "receivetime", "errorcode", "extno")
INBOUND_FIELDS = ("mobile", "taskid", "content", "receivetime", "extno")
DECLARATION = '<?xml version="1.0" encoding="utf-8" ?>'


def _report_box(n: int) -> str:
    return (
        f"<statusbox><mobile>1380013{n:04d}</mobile><taskid>{2611251200000000 + n}</taskid>"
        "<status>10</status><receivetime>2025-11-26 12:00:00</receivetime>"
        "<errorcode>DELIVRD</errorcode><extno></extno></statusbox>"
    )


def report_pull(count: int = 3) -> bytes:
    """A report pull in the gateway's layout."""
    boxes = "\n".join(_report_box(n) for n in range(count))
    return f"{DECLARATION}\n<returnsms>\n{boxes}\n</returnsms>".encode()


INBOUND_PULL = (
    f"{DECLARATION}\n<returnsms>\n"
    "<callbox><mobile>13800138000</mobile><taskid>1</taskid><content> 你好 \n</content>"
    "<receivetime>2025-11-26 12:00:00</receivetime><extno>01</extno></callbox>\n"
    "<callbox><mobile> 13800138001 </mobile><taskid>2</taskid><content>ok</content>"
    "<receivetime>2025/11/26 12:00:01</receivetime><extno/></callbox>\n"
    "</returnsms>"
).encode()


def _flat(body: bytes, box: str) -> list[dict[str, str]] | None:
    """The items the flat reader gives for ``body`` (``None``: the tree reads it)."""
    if _parse._head(body) != b"<":
        return None
    try:
        return _parse._flat_pull(document_bytes(body), box)
    except XmlError:
        return None


def _old_items(body: bytes, box: str) -> list[dict[str, Any]]:
    """The items as the pull read them before the fast path: the tree of the hardened parse."""
    kind, value = _parse._load(body)
    if kind == "json":
        return _parse._json_items(value, box, body)
    if local_name(value) != _parse.R_ROOT:
        raise _parse._unexpected_root(value, body)
    return _parse._xml_items(value, box)


def _outcome(read: Any, body: bytes, box: str) -> tuple[str, object]:
    """What reading ``body`` gives: the models (with their raw dicts in order), or the error."""
    try:
        items = read(body, box)
        models: list[Any] = (
            _parse._reports(items, "ipyy") if box == _parse.R_STATUS_BOX else _parse._inbound(items, "ipyy")
        )
    except SmsGateError as exc:
        return "error", (type(exc), str(exc), getattr(exc, "raw", None))
    return "models", (models, [repr(m) for m in models], [list(m.raw.items()) for m in models])


def _public(body: bytes, box: str) -> list[Any]:
    if box == _parse.R_STATUS_BOX:
        return [m.raw for m in _parse.parse_reports_reply(body, provider="ipyy")]
    return [m.raw for m in _parse.parse_inbound_reply(body, provider="ipyy")]


def _same(body: bytes) -> list[bool]:
    """Both pulls read ``body`` as before; which of them took the fast path."""
    taken = []
    for box in (_parse.R_STATUS_BOX, _parse.R_CALL_BOX):
        expected = _outcome(_old_items, body, box)
        assert _outcome(_parse._pull, body, box) == expected
        fast = _flat(body, box)
        if fast is not None:
            assert expected[0] == "models"
            assert [list(item.items()) for item in fast] == [
                list(item.items()) for item in _old_items(body, box)
            ]
        taken.append(fast is not None)
    return taken


# --- the generated documents ---------------------------------------------------------------

_NAMES = st.sampled_from(
    [
        *REPORT_FIELDS,
        "content",
        "statusbox",
        "callbox",
        "returnsms",
        "x_1",
        "xmlx",
        "a:b",
        "é",
        "1a",
        "A" * 70,
    ]
)
# Texts the grammar takes (stripped or not), and texts it must leave to the parser.
_CLEAN_TEXTS = st.one_of(
    st.sampled_from(
        [
            *("13800138000", " 10 ", "", "  ", "\n", "2025-11-26 12:00:00", "DELIVRD", "你好", "\t x\t"),
            *("\x85 x \u3000", "\x7f", "\ufdd0", "\U0001f600", "a b", "Z"),
        ]
    ),
    st.text(
        st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"), exclude_characters="<>&\ufffe\uffff"),
        max_size=8,
    ),
)
_ROUGH_TEXTS = st.one_of(
    _CLEAN_TEXTS,
    st.sampled_from(
        [
            *("a\r\nb", "a\rb", "\r", " \r", "a &amp; b", "&#13;", "&#x1;", "&lt;", "<![CDATA[x]]>"),
            *(
                "<!-- c -->",
                "<?pi x?>",
                "a > b",
                "]]>",
                "\x01",
                "\x0c",
                "\x1f",
                "\ufffe",
                "\uffff",
                "<b>x</b>",
            ),
        ]
    ),
    st.text(max_size=8),
)
_CLEAN_NAMES = st.sampled_from([*REPORT_FIELDS, "content", "x_1", "xmlx", "Z9"])
_ROUGH_NAMES = st.one_of(
    _CLEAN_NAMES,
    st.sampled_from(["statusbox", "callbox", "returnsms", "a:b", "é", "1a", "_a", "a.b", "a-b", "A" * 70]),
)
_CLEAN_SPACES = st.sampled_from(["", "", " ", "\n", "\r\n", "\t", "\r", "\n  "])
_ROUGH_SPACES = st.sampled_from(["\x0c", "\u3000", "\xa0", "\x85", "x"])
_CLEAN_DECLARATIONS = [
    "",
    DECLARATION,
    '<?xml version="1.0" encoding="UTF-8"?>',
    "<?xml version='1.0' encoding='gb2312' ?>",
    '<?xml version="1.0" encoding="us-ascii"?>',
    '<?xml version="1.0"?>',
    '<?xml version="1.0" encoding="latin-1"?>',
]
_ROUGH_DECLARATIONS = [
    '<?xml version="1.0" encoding="utf-16"?>',
    "<?xml junk ?>",
    f"{DECLARATION}{DECLARATION}",
    "<!DOCTYPE returnsms>",
    '<!DOCTYPE r [<!ENTITY a "b">]>',
    "<!-- c -->",
    "<?pi?>",
]


def _rarely(draw: st.DrawFn, rough: bool) -> bool:
    """True now and then in a rough document, never in a clean one."""
    return rough and draw(st.integers(0, 3)) == 0


@st.composite
def _field(draw: st.DrawFn, name: str, rough: bool) -> str:
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
def _box(draw: st.DrawFn, tag: str, names: list[str], rough: bool) -> str:
    if draw(st.integers(0, 19)) == 0:  # a box of its own shape
        names = draw(st.lists(_CLEAN_NAMES, max_size=5))
    space = draw(_CLEAN_SPACES)
    if _rarely(draw, rough):
        space = draw(_ROUGH_SPACES)
    fields = [draw(_field(name, rough)) for name in names]
    if _rarely(draw, rough):
        fields.insert(
            draw(st.integers(0, len(fields))),
            draw(st.sampled_from(["<!-- c -->", "<?pi?>", "x", "<a><b/></a>"])),
        )
    return f"<{tag}>{space}" + space.join(fields) + f"{space}</{tag.split(' ', 1)[0]}>"


_EXTRAS = [
    "<errorstatus><error>3</error><remark>wrong password</remark></errorstatus>",
    "<returnstatus>Faild</returnstatus><message>busy</message>",
    "<returnstatus>Success</returnstatus>",
    "<status>10</status>",
    "<!-- c -->",
    "<statusbox/>",
    "<callbox></callbox>",
    "<statusbox><statusbox>1</statusbox></statusbox>",
]


# One thing the grammar must not take (or must take exactly as lxml does).
_FLAWS = [
    "\r",
    "\r\n",
    "&amp;",
    "&#13;",
    "&lt;",
    "\x0c",
    "\x01",
    "\x00",
    "\x85",
    "\u3000",
    "\ufffe",
    "\uffff",
    "\ud800",
    ">",
    "]]>",
    "<!-- c -->",
    "<![CDATA[x]]>",
    "<?pi?>",
    "<a/>",
    "<a>1</a>",
    "</a>",
    "<",
    "/",
    " ",
    "x",
    ":",
    "é",
]


@st.composite
def _documents(draw: st.DrawFn) -> bytes:
    """A pull body: clean (every part in the grammar, all the same shape or not) or rough
    (now and then a part outside it: markup, references, CR, bad names or bytes …)."""
    mode = draw(st.sampled_from(["clean", "clean", "one flaw", "one flaw", "rough"]))
    rough = mode == "rough"
    tag = draw(st.sampled_from(["statusbox", "callbox"]))
    if _rarely(draw, rough):
        tag = draw(st.sampled_from(["other", "statusbox a='1'", "ns:callbox"]))
    names = draw(
        st.one_of(
            st.just(list(REPORT_FIELDS)),
            st.just(list(INBOUND_FIELDS)),
            st.lists(_CLEAN_NAMES, min_size=1, max_size=6, unique=True),
            st.lists(_ROUGH_NAMES, max_size=6) if rough else st.lists(_CLEAN_NAMES, min_size=1, max_size=6),
            st.permutations(REPORT_FIELDS),
        )
    )
    space = draw(_CLEAN_SPACES)
    boxes = [draw(_box(tag, names, rough)) for _ in range(draw(st.integers(0 if rough else 1, 4)))]
    if _rarely(draw, rough):  # a top-level field among the boxes
        boxes.insert(draw(st.integers(0, len(boxes))), draw(st.sampled_from(_EXTRAS)))
    root = "returnsms"
    if _rarely(draw, rough):
        root = draw(
            st.sampled_from(['returnsms xmlns="urn:x"', "ns:returnsms xmlns:ns='u'", "other", "returnsms "])
        )
    inner = space + space.join(boxes) + space
    document = f"<{root}>{inner}</{root.split(' ', 1)[0]}>" if inner or draw(st.booleans()) else f"<{root}/>"
    declaration = draw(st.sampled_from(_CLEAN_DECLARATIONS + (_ROUGH_DECLARATIONS if rough else [])))
    text = draw(st.sampled_from(["", "\n", "\ufeff", " \r\n"])) + declaration + draw(_CLEAN_SPACES) + document
    text += draw(st.sampled_from(["", "\n", "\r\n"]))
    if mode == "one flaw":  # one snippet after a ">" (in a text or between elements), or anywhere
        ends = [at + 1 for at, char in enumerate(text) if char == ">"]
        ends += [at + 1 for at in ends if text[at : at + 1] not in ("", "<")]  # inside a text
        at = draw(st.sampled_from(ends) | st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(_FLAWS)) + text[at:]
    if _rarely(draw, rough):
        text = draw(st.sampled_from(["\x1c", "\ufeff\ufeff", "x"])) + text
    if _rarely(draw, rough):
        text += draw(st.sampled_from(["<returnsms></returnsms>", "x", "<!-- c -->", "\x00", "<?pi?>"]))
    codec = "utf-8"
    if "gb2312" in declaration and draw(st.booleans()):
        codec = "gb18030"
    elif _rarely(draw, rough):
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
@given(_documents())
@example(report_pull(3))
@example(INBOUND_PULL)
@example(b"<returnsms></returnsms>")
@example(b"<returnsms/>")
@example(b"<returnsms><statusbox><a>x\ry</a><b>1</b></statusbox></returnsms>")
def test_the_fast_path_reads_what_the_tree_reads(body: bytes) -> None:
    taken = _same(body)
    event(f"fast path taken: reports {taken[0]}, inbound {taken[1]}")


@st.composite
def _flawed_gateway_pulls(draw: st.DrawFn) -> bytes:
    """A pull in the gateway's layout (which takes the fast path) with one flaw in it: in a
    text, between elements, or anywhere."""
    text = draw(st.sampled_from([report_pull(2).decode(), INBOUND_PULL.decode()]))
    ends = [at + 1 for at, char in enumerate(text) if char == ">"]
    inside = [at + 1 for at in ends if text[at : at + 1] not in ("", "<")]
    at = draw(st.sampled_from(ends) | st.sampled_from(inside) | st.integers(0, len(text)))
    flawed = text[:at] + draw(st.sampled_from(_FLAWS)) + text[at:]
    return flawed.encode("utf-8", "surrogatepass")


@settings(max_examples=400, deadline=None)
@given(_flawed_gateway_pulls())
def test_one_flaw_in_a_gateway_pull_reads_as_the_tree_reads(body: bytes) -> None:
    _same(body)


# --- the documents the gateway writes take it ----------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        report_pull(1),
        report_pull(50),
        INBOUND_PULL,
        b"<returnsms></returnsms>",
        b"\r\n" + report_pull(3).replace(b"\n", b"\r\n"),
        b"\xef\xbb\xbf" + report_pull(2),
        report_pull(2).replace(b"utf-8", b"gb2312"),
        INBOUND_PULL.replace(b"utf-8", b"gb2312").decode().encode("gb18030"),
        report_pull(2).replace(b"<extno></extno>", b"<extno />"),
        report_pull(2).replace(b"<extno></extno>", b"<extno/>"),
    ],
)
def test_gateway_pulls_take_the_fast_path(body: bytes) -> None:
    box = _parse.R_CALL_BOX if b"callbox" in body else _parse.R_STATUS_BOX
    assert _flat(body, box) is not None
    assert _same(body)[box == _parse.R_CALL_BOX]


def test_inbound_content_is_kept_as_written_and_other_fields_stripped() -> None:
    items = _flat(INBOUND_PULL, _parse.R_CALL_BOX)
    assert items is not None
    assert [item["content"] for item in items] == [" 你好 \n", "ok"]
    assert items[1]["mobile"] == "13800138001"
    assert items[1]["extno"] == ""
    messages = _parse.parse_inbound_reply(INBOUND_PULL, provider="ipyy")
    assert [m.text for m in messages] == [" 你好 \n", "ok"]


@pytest.mark.parametrize(
    ("body", "box"),
    [
        (report_pull(2).replace(b"13800130000", b"a\r\nb"), "statusbox"),  # CR: lxml writes LF
        (report_pull(2).replace(b"DELIVRD", b"a &amp; b"), "statusbox"),
        (report_pull(2).replace(b"DELIVRD", b"<![CDATA[x]]>"), "statusbox"),
        (report_pull(2).replace(b"<status>", b"<!-- c --><status>"), "statusbox"),
        (report_pull(2).replace(b"<returnsms>", b'<returnsms xmlns="urn:x">'), "statusbox"),
        (
            report_pull(2).replace(b"<returnsms>", b"<returnsms><returnstatus>Faild</returnstatus>"),
            "statusbox",
        ),
        (
            report_pull(2).replace(
                b"</returnsms>", b"<errorstatus><error>3</error></errorstatus></returnsms>"
            ),
            "statusbox",
        ),
        (b"<returnsms/>", "statusbox"),
        (b"\xef\xbb\xbf\xef\xbb\xbf" + report_pull(2), "statusbox"),  # the declaration after a second BOM
        (report_pull(2), "callbox"),  # a report pull read as inbound: the tree decides
        (INBOUND_PULL, "statusbox"),
        # a repeated field, or boxes whose fields differ: the tree keeps the first of each
        (
            b"<returnsms><statusbox><a>1</a><b>2</b><a>3</a></statusbox><statusbox><b>4</b></statusbox></returnsms>",
            "statusbox",
        ),
        (b"<returnsms><statusbox><a>1</a></statusbox><statusbox></statusbox></returnsms>", "statusbox"),
    ],
)
def test_other_documents_take_the_tree(body: bytes, box: str) -> None:
    assert _flat(body, box) is None
    _same(body)


@pytest.mark.parametrize(
    "body",
    [
        report_pull(2).replace(b"</mobile>", b"</mobilx>", 1),  # mismatched close tag
        report_pull(2).replace(b"<taskid>", b"<1taskid>", 1).replace(b"</taskid>", b"</1taskid>", 1),
        report_pull(2) + b"<returnsms></returnsms>",  # two roots
        report_pull(2) + b"x",  # trailing garbage
        report_pull(2)[:-1],  # cut short
        report_pull(2).replace(b"DELIVRD", b"DELI\x01VRD", 1),  # a control character
        report_pull(2).replace(b"DELIVRD", "\ufffe".encode(), 1),  # a non-character
        report_pull(2).replace(b"DELIVRD", b"\xff\xfe", 1),  # not UTF-8
        b"\xff\xfe" + report_pull(2),  # a UTF-16 BOM before UTF-8 bytes
        report_pull(2).replace(b"utf-8", b"utf-16"),  # a declared encoding the bytes are not
        report_pull(2).replace(b"<returnsms>", b"\x0c<returnsms>"),  # form feed is not XML space
        b"<returnsms><statusbox><a>1</a></statusbox></returnsms\n>x",
    ],
)
def test_bodies_the_parser_refuses_are_refused_the_same(body: bytes) -> None:
    assert _flat(body, _parse.R_STATUS_BOX) is None
    with pytest.raises(MalformedReplyError):
        _parse.parse_reports_reply(body, provider="ipyy")
    _same(body)


@pytest.mark.parametrize(
    "body",
    [
        # a megabyte of nested, unterminated or almost-flat markup: the grammar gives up in
        # linear time and the hardened parser refuses it
        b"<returnsms>" + b"<statusbox>" * 100_000,
        b"<returnsms><statusbox><mobile>" + b"1" * 1_000_000,
        b"<returnsms><statusbox>" + b"<mobile>1</mobile>" * 60_000 + b"</statusbo>",
        b"<returnsms>"
        + b"<statusbox><mobile>1</mobile><a>2</a></statusbox>" * 25_000
        + b"<statusbox><mobile>1</mobile><a>2</a>",
        b"<returnsms>" + b"<statusbox><a>" + b" " * 1_000_000 + b"</b></statusbox></returnsms>",
        b"<returnsms>" + b"<a>" * 300 + b"</a>" * 300 + b"</returnsms>",
    ],
)
def test_hostile_near_misses_end_in_the_parser_s_refusal(body: bytes) -> None:
    assert _flat(body, _parse.R_STATUS_BOX) is None
    with pytest.raises(MalformedReplyError):
        _parse.parse_reports_reply(body, provider="ipyy")


def test_hostile_declarations_are_still_refused() -> None:
    billion = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b"<returnsms><statusbox><mobile>&b;</mobile></statusbox></returnsms>"
    )
    hidden = b"<?xml <!DOCTYPE x ?><returnsms><statusbox><a>1</a></statusbox></returnsms>"
    for body in (billion, hidden):
        assert _flat(body, _parse.R_STATUS_BOX) is None
        with pytest.raises(MalformedReplyError, match="DTD or entity"):
            _parse.parse_reports_reply(body, provider="ipyy")


def test_a_large_pull_is_left_to_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    body = report_pull(20)
    assert _flat(body, _parse.R_STATUS_BOX) is not None
    monkeypatch.setattr(_flatxml, "MAX_FLAT_BYTES", len(body) - 100)
    assert _flat(body, _parse.R_STATUS_BOX) is None
    assert len(_public(body, _parse.R_STATUS_BOX)) == 20


def test_the_pull_s_reports_are_those_of_the_tree() -> None:
    body = report_pull(200)
    assert _outcome(_parse._pull, body, "statusbox") == _outcome(_old_items, body, "statusbox")
    reports = _parse.parse_reports_reply(body, provider="ipyy")
    assert reports[7].mobile == "13800130007"
    assert reports[7].received_at is not None
    assert list(reports[7].raw) == list(REPORT_FIELDS)


def test_a_box_of_many_fields_is_left_to_the_parser() -> None:
    fields = "".join(f"<f{n}>{n}</f{n}>" for n in range(33))
    body = f"<returnsms><statusbox>{fields}</statusbox></returnsms>".encode()
    assert _flat(body, _parse.R_STATUS_BOX) is None
    assert len(_public(body, _parse.R_STATUS_BOX)[0]) == 33
    assert _flat(body.replace(b"<f32>32</f32>", b""), _parse.R_STATUS_BOX) is not None


def test_boxes_of_two_shapes_are_read_as_two_runs() -> None:
    body = (
        b"<returnsms><statusbox><a>1</a><b>2</b></statusbox>"
        b"<statusbox><b>3</b><a>4</a></statusbox></returnsms>"
    )
    assert _flat(body, _parse.R_STATUS_BOX) == [{"a": "1", "b": "2"}, {"b": "3", "a": "4"}]
    _same(body)


def test_a_pull_the_parser_reads_is_decoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback hands lxml the bytes the flat reader was given: the body is decoded (and
    its declaration read) once, not again by parse_xml (it was decoded twice)."""
    calls: list[bytes] = []
    decode_body = _xml.decode_body

    def counting(body: bytes, default: str = "utf-8") -> str:
        calls.append(body)
        return decode_body(body, default)

    monkeypatch.setattr(_xml, "decode_body", counting)
    body = INBOUND_PULL.replace(b"<mobile>", b"<!-- c --><mobile>", 1)  # not flat, not ASCII
    assert _flat(body, _parse.R_CALL_BOX) is None
    calls.clear()
    messages = _parse.parse_inbound_reply(body, provider="ipyy")
    assert [m.text for m in messages] == [" 你好 \n", "ok"]
    assert len(calls) == 1
