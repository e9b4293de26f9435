"""The sandbox is a second, independent implementation of the ipyy protocol: it must not
import the client's wire code, or a bug there would be shared by both sides of every
end-to-end cross-check. Its own spec 1.5 crypto and TMS reader are checked here against the
spec's worked examples, not against the client."""

from __future__ import annotations

import ast
import base64
import json
from pathlib import Path

import pytest

import smsgate_ipyy.sandbox
from smsgate_ipyy.sandbox._des import decrypt_text64, md5_upper, secret_of
from smsgate_ipyy.sandbox._tms import TmsError, read_parts

SANDBOX = Path(smsgate_ipyy.sandbox.__file__).parent
PACKAGE = "smsgate_ipyy.sandbox"

# spec 1.5's worked example, verbatim
EXAMPLE_TEXT64 = (
    "0DqKGm9MWnsFM2wlYEW65VXylBxJGBiuZzP5dTp1ALdK7QaTgx0cR5GftknjiNJBOd46tdJp+6J3OYAoukEBOKlfsExTaFYC7X514PyLC"
    "+NrwhDLKYOvFAb7gBo+dqkslvVJklz4qm7/gUHrHAT2d7hEcQxhDMD+Ij8NIy1kvHqU3noZTqjlC1PaaFYy6zifBr5ND+V4UK0xM7scF/avf"
    "VKW/0k16qqVzDDJocRkTz0jqvtJYfo1liuI2+h2fRkK"
)
EXAMPLE_JSON = {
    "UserName": "test",
    "Secret": "2A8D628159B0D4D3D4D58A3EB17F3082",
    "Stamp": "0414174715",
    "Moblie": "15510331875",
    "Text": "我的验证码是：7890。【奥创时代】",
    "Ext": "",
    "SendTime": "",
}


def _module_of(path: Path) -> str:
    parts = path.relative_to(SANDBOX).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def imported_modules(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module an import statement of ``source`` (the text of ``module``) names,
    relative imports resolved."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            names.add(target)
            # ``from pkg import name`` may import the submodule pkg.name
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return names


def offending(names: set[str]) -> set[str]:
    """The imports a sandbox module may not make: anything of ``smsgate_ipyy`` outside the
    sandbox, and private modules of the core (only public smsgate API is allowed)."""
    bad = set()
    for name in names:
        top = name.split(".")[0]
        if top == "smsgate_ipyy" and name != PACKAGE and not name.startswith(PACKAGE + "."):
            bad.add(name)
        if top == "smsgate" and any(part.startswith("_") for part in name.split(".")[1:]):
            bad.add(name)
    return bad


def _sources() -> list[Path]:
    return sorted(SANDBOX.rglob("*.py"))


def test_the_sandbox_imports_nothing_of_the_client() -> None:
    found = {
        f"{path.relative_to(SANDBOX)}: {name}"
        for path in _sources()
        for name in offending(
            imported_modules(
                path.read_text(encoding="utf-8"), _module_of(path), is_package=path.name == "__init__.py"
            )
        )
    }
    assert found == set()


def test_the_import_check_sees_every_family_and_catches_the_client() -> None:
    """Guard against the check above passing vacuously: it reads the endpoint modules, and
    it flags the imports the sandbox used to make, written either way."""
    names = {path.relative_to(SANDBOX).as_posix() for path in _sources()}
    assert {"_app.py", "_des.py", "_tms.py", "endpoints/encrypted.py", "endpoints/soap.py"} <= names
    encrypted = SANDBOX / "endpoints" / "encrypted.py"
    assert f"{PACKAGE}._des" in imported_modules(
        encrypted.read_text(encoding="utf-8"), f"{PACKAGE}.endpoints.encrypted"
    )
    planted = "from smsgate_ipyy._crypto import des_decrypt\nfrom ... import _tms\nimport smsgate._gateway\n"
    assert offending(imported_modules(planted, f"{PACKAGE}.endpoints.mms")) == {
        "smsgate_ipyy._crypto",
        "smsgate_ipyy._crypto.des_decrypt",
        "smsgate_ipyy",
        "smsgate_ipyy._tms",
        "smsgate._gateway",
    }
    assert offending(imported_modules("from smsgate.receiver import ServerThread\n", PACKAGE)) == set()


# -- the sandbox's own spec 1.5 crypto ---------------------------------------------------------


def test_text64_of_the_spec_example_opens_with_the_password_test() -> None:
    assert json.loads(decrypt_text64(EXAMPLE_TEXT64, "test")) == EXAMPLE_JSON


def test_secret_of_the_spec_example() -> None:
    assert secret_of("test", "0414174715") == EXAMPLE_JSON["Secret"]


def test_md5_password_form_of_spec_2_2() -> None:
    assert md5_upper("abc123") == "E99A18C428CB38D5F260853678922E03"


@pytest.mark.parametrize(
    "text64",
    [
        "not base64!",
        base64.b64encode(b"1234567").decode(),  # not whole DES blocks
        base64.b64encode(b"").decode(),
        EXAMPLE_TEXT64[:-12] + "AAAAAAAAAAA=",  # the last block changed: padding breaks
    ],
)
def test_text64_that_does_not_open_is_a_value_error(text64: str) -> None:
    with pytest.raises(ValueError):
        decrypt_text64(text64, "test")


def test_text64_under_the_wrong_key_does_not_give_the_json() -> None:
    try:
        opened = decrypt_text64(EXAMPLE_TEXT64, "other")
    except ValueError:
        return
    assert opened != json.dumps(EXAMPLE_JSON).encode()


# -- the sandbox's own TMS reader (spec 2.2) ---------------------------------------------------


def _element(name: bytes, data: bytes) -> bytes:
    return name + b"\x00" + len(data).to_bytes(4, "little") + data


def test_tms_elements_come_back_in_order() -> None:
    blob = _element(b"a.smil", b"<smil/>") + _element(b"1.txt", "你好".encode()) + _element(b"e.gif", b"")
    assert read_parts(blob) == [("a.smil", b"<smil/>"), ("1.txt", "你好".encode()), ("e.gif", b"")]
    assert read_parts(b"") == []


@pytest.mark.parametrize(
    "blob",
    [
        b"no-terminator",
        b"\x00" + (0).to_bytes(4, "little"),  # empty name
        b"a.txt\x00\x01\x00",  # size cut short
        _element(b"a.txt", b"abc")[:-1],  # content cut short
        b"a.txt\x00" + (-1).to_bytes(4, "little", signed=True),
        b"\xff\xfe\x00" + (0).to_bytes(4, "little"),  # name not UTF-8
    ],
)
def test_malformed_tms_is_refused(blob: bytes) -> None:
    with pytest.raises(TmsError):
        read_parts(blob)
