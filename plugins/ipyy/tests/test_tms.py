"""The TMS container of spec 2.2 (wire notes §3: 4-byte little-endian sizes)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgate_ipyy._tms import TmsError, pack, unpack


def test_pack_lays_out_name_nul_le_size_and_data() -> None:
    blob = pack([("1.txt", b"hi"), ("mms.smil", b"<smil/>")])
    assert blob == b"1.txt\x00\x02\x00\x00\x00hi" + b"mms.smil\x00\x07\x00\x00\x00<smil/>"


def test_size_is_little_endian_for_multi_byte_lengths() -> None:
    blob = pack([("a.jpg", b"x" * 0x0102)])
    assert blob[6:10] == b"\x02\x01\x00\x00"


def test_empty_part_has_size_zero() -> None:
    assert pack([("e.txt", b"")]) == b"e.txt\x00\x00\x00\x00\x00"


def test_pack_refuses_nul_in_a_name() -> None:
    with pytest.raises(TmsError):
        pack([("a\x00b", b"")])


@pytest.mark.parametrize(
    "blob",
    [
        b"noterminator",
        b"\x00\x01\x00\x00\x00x",  # empty name
        b"a.txt\x00\x01\x00",  # truncated size
        b"a.txt\x00\x05\x00\x00\x00abc",  # declares more than remains
        b"a.txt\x00\xff\xff\xff\xffabc",  # negative size
    ],
)
def test_unpack_refuses_malformed_containers(blob: bytes) -> None:
    with pytest.raises(TmsError):
        unpack(blob)


names = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/\\"),
    min_size=1,
    max_size=20,
)


@given(st.lists(st.tuples(names, st.binary(max_size=200)), max_size=6))
def test_round_trip_preserves_order_names_and_bytes(parts: list[tuple[str, bytes]]) -> None:
    assert unpack(pack(parts)) == parts
