"""Known-answer tests of the ipyy hashing and encryption (spec 1.2 and 1.5)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsgate_ipyy._build import Login, encrypted_payload
from smsgate_ipyy._crypto import CHINA, des_decrypt, des_encrypt, des_key, md5_upper, secret, stamp

# spec 1.5, verbatim.
SPEC_JSON = (
    '{"UserName":"test","Secret":"2A8D628159B0D4D3D4D58A3EB17F3082","Stamp":"0414174715",'
    '"Moblie":"15510331875","Text":"我的验证码是：7890。【奥创时代】","Ext":"","SendTime":""}'
)
SPEC_HEX = (
    "7B 22 55 73 65 72 4E 61 6D 65 22 3A 22 74 65 73 74 22 2C 22 53 65 63 72 65 74 22 3A 22 32 41 38 "
    "44 36 32 38 31 35 39 42 30 44 34 44 33 44 34 44 35 38 41 33 45 42 31 37 46 33 30 38 32 22 2C 22 "
    "53 74 61 6D 70 22 3A 22 30 34 31 34 31 37 34 37 31 35 22 2C 22 4D 6F 62 6C 69 65 22 3A 22 31 35 "
    "35 31 30 33 33 31 38 37 35 22 2C 22 54 65 78 74 22 3A 22 E6 88 91 E7 9A 84 E9 AA 8C E8 AF 81 E7 "
    "A0 81 E6 98 AF EF BC 9A 37 38 39 30 E3 80 82 E3 80 90 E5 A5 A5 E5 88 9B E6 97 B6 E4 BB A3 E3 80 "
    "91 22 2C 22 45 78 74 22 3A 22 22 2C 22 53 65 6E 64 54 69 6D 65 22 3A 22 22 7D"
)
SPEC_TEXT64 = (
    "0DqKGm9MWnsFM2wlYEW65VXylBxJGBiuZzP5dTp1ALdK7QaTgx0cR5GftknjiNJBOd46tdJp+6J3OYAoukEBOKlfsExTaFYC7X514Py"
    "LC+NrwhDLKYOvFAb7gBo+dqkslvVJklz4qm7/gUHrHAT2d7hEcQxhDMD+Ij8NIy1kvHqU3noZTqjlC1PaaFYy6zifBr5ND+V4UK0xM7s"
    "cF/avfVKW/0k16qqVzDDJocRkTz0jqvtJYfo1liuI2+h2fRkK"
)


def test_md5_of_abc123_is_the_spec_value() -> None:
    assert md5_upper("abc123") == "E99A18C428CB38D5F260853678922E03"


def test_secret_of_the_worked_example_uses_the_plain_password() -> None:
    assert secret("test", "0414174715") == "2A8D628159B0D4D3D4D58A3EB17F3082"


def test_des_key_is_password_bytes_zero_padded_to_eight() -> None:
    assert des_key("test") == bytes.fromhex("7465737400000000")
    assert des_key("0123456789") == b"01234567"


def test_payload_builder_reproduces_the_spec_json_byte_for_byte() -> None:
    payload = encrypted_payload(
        Login("https://dx.ipyy.net/", "", "test", "test"),
        stamp_value="0414174715",
        mobiles=["15510331875"],
        content="我的验证码是：7890。【奥创时代】",
    )
    assert payload == SPEC_JSON.encode("utf-8")
    assert payload == bytes.fromhex(SPEC_HEX)


def test_text64_of_the_worked_example_matches_the_spec_exactly() -> None:
    assert des_encrypt(bytes.fromhex(SPEC_HEX), "test") == SPEC_TEXT64


def test_des_decrypt_inverts_the_worked_example() -> None:
    assert des_decrypt(SPEC_TEXT64, "test") == SPEC_JSON.encode("utf-8")


@pytest.mark.parametrize("bad", ["not base64!!", "QUJD", ""])
def test_des_decrypt_refuses_bad_text64_with_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        des_decrypt(bad, "test")


@given(st.binary(max_size=300), st.text(min_size=1, max_size=12))
def test_des_round_trip_for_any_bytes_and_password(data: bytes, password: str) -> None:
    assert des_decrypt(des_encrypt(data, password), password) == data


def test_stamp_is_mmddhhmmss_in_china_time() -> None:
    utc = dt.datetime(2015, 4, 14, 9, 47, 15, tzinfo=dt.UTC)
    assert stamp(utc) == "0414174715"
    assert stamp(utc.astimezone(CHINA)) == "0414174715"


def test_stamp_crosses_the_date_line_in_china_time() -> None:
    assert stamp(dt.datetime(2015, 12, 31, 16, 0, 1, tzinfo=dt.UTC)) == "0101000001"


def test_stamp_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError):
        stamp(dt.datetime(2015, 4, 14, 17, 47, 15))
