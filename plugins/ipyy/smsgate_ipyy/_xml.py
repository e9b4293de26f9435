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

from lxml import etree

__all__ = ["NOT_XML_CHAR", "XmlError", "children_text", "decode_body", "is_xml_text", "parse_xml"]

_DECLARATION = re.compile(rb"\A\s*<\?xml\b[^>]*?\?>", re.IGNORECASE)
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""", re.IGNORECASE)
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


def _parser() -> etree.XMLParser:
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
    # Most replies hold no "<!" at all: a plain substring search (memchr-fast) answers them
    # before the case-insensitive expression has to scan the whole body.
    return b"<!" in data and _DANGEROUS.search(data) is not None


def parse_xml(body: bytes, default_encoding: str = "utf-8") -> etree._Element:
    """Parse ``body`` into its root element, refusing DTDs and entity declarations.

    :raises XmlError: not well-formed, not decodable, or declares a DTD/entity.
    """
    if _declares_dtd_or_entity(body):
        raise XmlError("the document declares a DTD or entity; refused")
    text = decode_body(body, default_encoding)
    # The declaration is dropped: the text is handed to lxml re-encoded as UTF-8.
    text = re.sub(r"\A\s*<\?xml\b[^>]*?\?>", "", text, flags=re.IGNORECASE).lstrip("\ufeff")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: no XML document holds one
        raise XmlError("the body decodes to text that is not Unicode") from exc
    if _declares_dtd_or_entity(data):
        raise XmlError("the document declares a DTD or entity; refused")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise XmlError(f"not well-formed XML ({exc.msg})") from exc
    return root


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
