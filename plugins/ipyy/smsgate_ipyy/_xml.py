"""Safe parsing of the XML the gateway (or a push) sends. Pure functions.

Replies come from the network, so the parser never expands entities, never loads a DTD and
never touches the network, and any document that *declares* a DTD or an entity is refused
outright (a billion-laughs body is an error, not a slow parse).

The gateway's XML declaration has a space before ``?>`` (wire notes §4) and smsGBK.aspx
declares ``gb2312`` while GBK bytes may follow; the declaration is therefore read here, the
bytes decoded by Python (``gb2312``/``gbk`` read as the GB18030 superset), and the text
re-encoded as UTF-8 before lxml sees it.
"""

from __future__ import annotations

import codecs
import re
import threading

from lxml import etree

__all__ = [
    "NOT_XML_CHAR",
    "XmlError",
    "children_text",
    "decode_body",
    "document_bytes",
    "is_xml_text",
    "parse_document",
    "parse_xml",
]

_DECLARATION = re.compile(rb"\A\s*<\?xml\b[^>]*?\?>", re.IGNORECASE)
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""", re.IGNORECASE)
_TEXT_DECLARATION = re.compile(r"\A\s*<\?xml\b[^>]*?\?>", re.IGNORECASE)
# _TEXT_DECLARATION on ASCII text: a str pattern's \s also takes the separators \x1c-\x1f.
_ASCII_TEXT_DECLARATION = re.compile(rb"\A[\s\x1c-\x1f]*<\?xml\b[^>]*?\?>", re.IGNORECASE)
_DANGEROUS = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
# Chinese legacy encodings are all read with the widest of them: a server that declares
# gb2312 but writes GBK-only characters still decodes.
_CHINESE = {"gb2312", "gbk", "cp936", "gb18030", "euc-cn", "x-gbk"}
# Python codecs that are not character sets a document can be written in: they raise
# UnicodeError on ordinary bytes (undefined, idna), decode escapes into lone surrogates
# (unicode_escape, utf-7), or take quadratic time (punycode). A declaration naming one is
# refused. (Bytes-to-bytes codecs such as base64 are refused by bytes.decode itself.)
_NOT_CHARSETS = frozenset({"undefined", "punycode", "unicode-escape", "raw-unicode-escape", "idna", "utf-7"})


#: A character XML 1.0 cannot carry (section 2.2): lxml refuses a string holding one.
NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def is_xml_text(value: str) -> bool:
    """True when every character of ``value`` is one XML 1.0 can carry (no control character
    but tab, CR and LF, no lone surrogate, no U+FFFE/U+FFFF)."""
    return NOT_XML_CHAR.search(value) is None


class XmlError(ValueError):
    """The bytes are not a safe, well-formed XML document."""


_LOCAL = threading.local()
_BOM = codecs.BOM_UTF8
_UTF8_NAMES = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
# The declarations the gateway writes (wire notes §4), and the plain one.
_GATEWAY_DECLARATIONS = (
    b'<?xml version="1.0" encoding="utf-8" ?>',
    b'<?xml version="1.0" encoding="utf-8"?>',
    b'<?xml version="1.0"?>',
)


def _parser() -> etree.XMLParser:
    """This thread's hardened parser: made once per thread (an lxml parser must not be shared
    between threads; making one per document was a fifth of a small push's parse)."""
    parser: etree.XMLParser | None = getattr(_LOCAL, "parser", None)
    if parser is None:
        parser = _LOCAL.parser = _new_parser()
    return parser


def _new_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=True,
        remove_comments=True,
        remove_pis=True,
    )


def decode_body(body: bytes, default: str = "utf-8") -> str:
    """Decode a reply body: a BOM wins, then the XML declaration's encoding, then ``default``.

    Chinese legacy encodings (``gb2312``, ``gbk`` …) are decoded as GB18030, their superset.
    Raises :class:`XmlError` when the bytes do not decode.
    """
    if body.startswith(codecs.BOM_UTF8):
        encoding = "utf-8"
        body = body[len(codecs.BOM_UTF8) :]
    else:
        encoding = default
        declaration = _DECLARATION.match(body)
        if declaration:
            found = _ENCODING.search(declaration.group(0))
            if found:
                encoding = found.group(1).decode("ascii").lower()
    if encoding.lower() in _CHINESE:
        encoding = "gb18030"
    try:
        if codecs.lookup(encoding).name in _NOT_CHARSETS:
            raise XmlError(f"{encoding} is not a character set")
        return body.decode(encoding)
    except (LookupError, ValueError) as exc:  # UnicodeError is a ValueError
        raise XmlError(f"the body is not valid {encoding}") from exc


def _declares_dtd_or_entity(data: bytes) -> bool:
    # Most replies hold no "!" at all: a one-byte search (memchr) answers them before the
    # two-byte one (slowed by every "<") and the case-insensitive expression scan the body.
    return b"!" in data and b"<!" in data and _DANGEROUS.search(data) is not None


def parse_xml(body: bytes, default_encoding: str = "utf-8") -> etree._Element:
    """Parse ``body`` into its root element, refusing DTDs and entity declarations.

    :raises XmlError: not well-formed, not decodable, or declares a DTD/entity.
    """
    return parse_document(document_bytes(body, default_encoding))


def parse_document(data: bytes) -> etree._Element:
    """Parse what :func:`document_bytes` gave into its root element: for a caller that has
    already worked those bytes out (to read a flat document without a tree first), so that
    the body is not decoded and its declaration read a second time.

    :raises XmlError: not well-formed.
    """
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise XmlError(f"not well-formed XML ({exc.msg})") from exc
    return root


def document_bytes(body: bytes, default_encoding: str = "utf-8") -> bytes:
    """What :func:`parse_xml` hands to lxml: the body in UTF-8 without its XML declaration,
    its encoding decided and its DTD or entity declarations refused as parse_xml decides them.
    (Valid UTF-8 without surrogates: either ASCII bytes or text Python encoded.)

    :raises XmlError: not decodable, or declares a DTD/entity.
    """
    if _declares_dtd_or_entity(body):
        raise XmlError("the document declares a DTD or entity; refused")
    data = _ascii_without_declaration(body, default_encoding)
    if data is not None:
        return data  # a tail of the body, checked above
    data = _utf8_without_declaration(body, default_encoding)
    if _declares_dtd_or_entity(data):
        raise XmlError("the document declares a DTD or entity; refused")
    return data


def _ascii_without_declaration(body: bytes, default_encoding: str) -> bytes | None:
    """The bytes :func:`_utf8_without_declaration` gives, without decoding and re-encoding
    them, for the common reply: ASCII only, read as UTF-8 or ASCII (declared so, or by
    default). ``None`` for any other body."""
    if not body.isascii():
        return None
    if body.startswith(_GATEWAY_DECLARATIONS) and default_encoding.lower() in _UTF8_NAMES:
        # What the expressions below decide, without them (three were most of a push's
        # decisions): the declaration, up to its first "?>", says UTF-8.
        return body[body.index(b"?>") + 2 :]
    encoding = default_encoding
    declaration = _DECLARATION.match(body)  # as decode_body reads it
    if declaration:
        found = _ENCODING.search(declaration.group(0))
        if found:
            encoding = found.group(1).decode("ascii")
    if encoding.lower() not in _UTF8_NAMES:
        return None
    # ASCII text is the same bytes in UTF-8: the declaration is cut off the bytes themselves,
    # matched as _TEXT_DECLARATION matches the text.
    dropped = _ASCII_TEXT_DECLARATION.match(body)
    return body[dropped.end() :] if dropped else body


def _utf8_without_declaration(body: bytes, default_encoding: str) -> bytes:
    """The body decoded, its XML declaration dropped, re-encoded as UTF-8 for lxml."""
    text = decode_body(body, default_encoding)
    # The declaration is dropped: the text is handed to lxml re-encoded as UTF-8.
    # An anchored match, not re.sub (which tried the expression at every character).
    declaration = _TEXT_DECLARATION.match(text)
    if declaration:
        text = text[declaration.end() :]
    text = text.lstrip("\ufeff")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: no XML document holds one
        raise XmlError("the body decodes to text that is not Unicode") from exc


def local_name(element: etree._Element) -> str:
    """The tag without its namespace."""
    # Comments and processing instructions have a function as tag (the parser drops them,
    # but a caller may hand in any element).
    tag: object = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def children_text(element: etree._Element) -> dict[str, str]:
    """Map each direct child's local tag name to its stripped text (``""`` when empty).

    A repeated tag keeps its first value; the gateway's replies never repeat scalar fields.
    """
    out: dict[str, str] = {}
    for child in element:
        name = local_name(child)
        if name and name not in out:
            out[name] = (child.text or "").strip()
    return out
