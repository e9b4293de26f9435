"""``import smsgate`` stays cheap (issue 11) without losing a public name: every lazily
loaded name is importable, is the object its module defines, is listed by ``dir()`` and is
known to type checkers."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import smsgate

INIT = Path(smsgate.__file__)


def _fresh(script: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_every_lazily_loaded_name_resolves_to_its_module_object_in_a_fresh_interpreter() -> None:
    script = (
        "import importlib, json, sys\nimport smsgate\n"
        "lazy = dict(smsgate._LAZY)\n"
        "out = {'unloaded_at_import': sorted(n for n in lazy if n in vars(smsgate)),"
        " 'in_dir': sorted(n for n in lazy if n in dir(smsgate)), 'same': {}, 'from_import': {}}\n"
        "for name, module in lazy.items():\n"
        "    ns = {}\n"
        "    exec(f'from smsgate import {name} as value', ns)\n"
        "    out['from_import'][name] = ns['value'] is getattr(importlib.import_module(module), name)\n"
        "    out['same'][name] = getattr(smsgate, name) is ns['value'] and name in vars(smsgate)\n"
        "print(json.dumps(out))\n"
    )
    result = json.loads(_fresh(script))
    lazy = dict(smsgate._LAZY)
    assert result["unloaded_at_import"] == []  # none of them is bound by the import itself
    assert result["in_dir"] == sorted(lazy)
    assert all(result["from_import"].values()), result["from_import"]
    assert all(result["same"].values()), result["same"]


def test_every_public_name_is_importable_and_listed() -> None:
    script = (
        "import json\nimport smsgate\n"
        "missing = [n for n in smsgate.__all__ if not hasattr(smsgate, n)]\n"
        "unlisted = sorted(set(smsgate.__all__) - set(dir(smsgate)))\n"
        "print(json.dumps({'missing': missing, 'unlisted': unlisted}))\n"
    )
    assert json.loads(_fresh(script)) == {"missing": [], "unlisted": []}
    assert set(smsgate._LAZY) <= set(smsgate.__all__)


def test_dir_lists_the_public_names_and_no_private_alias() -> None:
    """``dir(smsgate)`` (tab completion, ``help()``) shows the public names, the module's own
    dunders and the public submodules loaded, not the aliases the package imports under a
    private name (``_importlib``, ``_Callable`` …), its private modules or ``annotations``."""
    script = (
        "import json\nimport smsgate\nimport smsgate.routing\n"
        "print(json.dumps({'dir': dir(smsgate), 'vars': sorted(vars(smsgate))}))\n"
    )
    result = json.loads(_fresh(script))
    listed = result["dir"]
    assert listed == sorted(listed)
    private = [name for name in listed if name.startswith("_") and not name.startswith("__")]
    assert private == []
    assert "annotations" not in listed
    assert set(smsgate.__all__) <= set(listed)
    assert {"exceptions", "routing", "__doc__", "__name__", "__path__", "__version__"} <= set(listed)
    extra = set(listed) - set(smsgate.__all__) - {n for n in listed if n.startswith("__")}
    assert extra == {"exceptions", "routing"}  # the public submodules loaded
    assert {"_importlib", "_sys", "_Callable", "_Mapping"} <= set(result["vars"])  # still there


def test_type_checkers_see_every_lazily_loaded_name() -> None:
    """Each lazy name is imported under ``if TYPE_CHECKING:`` from the module ``_LAZY`` names
    (mypy --strict then knows ``smsgate.Gateway`` and ``from smsgate import Gateway``)."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    seen: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in ast.walk(node):
                if isinstance(stmt, ast.ImportFrom) and stmt.module:
                    seen.update({alias.asname or alias.name: stmt.module for alias in stmt.names})
    assert seen == dict(smsgate._LAZY)


def test_import_smsgate_loads_nothing_but_its_core_modules_and_attr_on_top_of_httpx() -> None:
    """What ``import smsgate`` adds to ``import httpx`` (its HTTP library) is its five core
    modules and the models' library, through the ``attr`` namespace only (the ``attrs``
    package re-exports the same functions from six more modules): no standard-library module
    httpx does not load already, no helper module of its own (``lazy_exports`` lives in the
    package's ``__init__``)."""
    script = (
        "import json, sys\nimport httpx\nbefore = set(sys.modules)\nimport smsgate\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    added = json.loads(_fresh(script))
    ours = [name for name in added if name != "attr" and not name.startswith("attr.")]
    assert ours == [
        "smsgate",
        "smsgate._checks",
        "smsgate._models",
        "smsgate._provider",
        "smsgate.exceptions",
    ]
    assert "attr._make" in added


def test_import_smsgate_itself_loads_httpx_and_attr() -> None:
    """The names ``import smsgate`` defers are smsgate's own: the provider protocol names
    httpx's request and response types, and the models are attrs classes, so both libraries
    are loaded by the import itself (a measure of ``import smsgate`` includes them)."""
    script = (
        "import json, sys\nimport smsgate\n"
        "print(json.dumps(sorted({'httpx', 'attr'} & sys.modules.keys())))\n"
    )
    assert json.loads(_fresh(script)) == ["attr", "httpx"]


def test_the_models_patterns_are_compiled_on_their_first_use_then_called_directly() -> None:
    """``import smsgate`` compiles none of the models' patterns; the first check that needs
    one compiles it and puts the compiled pattern's own ``fullmatch`` in the stand-in's place."""
    script = (
        "import json, datetime as dt\nimport smsgate\nfrom smsgate import _checks as m\n"
        "names = ['_number_fullmatch', '_name_fullmatch', '_reference_fullmatch']\n"
        "before = [type(getattr(m, n)).__name__ for n in names]\n"
        "smsgate.Sms(to='13800138000', template='verify', params={'code': '1'}, reference='r-1')\n"
        "after = [getattr(m, n).__self__.pattern for n in names]\n"
        "print(json.dumps({'before': before, 'after': after}))\n"
    )
    result = json.loads(_fresh(script))
    assert result["before"] == ["function"] * 3
    assert result["after"] == [PATTERNS[name] for name in ("number", "name", "reference")]


#: The models' patterns, as they were compiled at import before (issue 11).
PATTERNS = {
    "number": r"\+?[0-9]{3,20}",
    "name": r"[A-Za-z_][A-Za-z0-9_]{0,63}",
    "reference": r"[\x21-\x7e](?:[\x20-\x7e]{0,62}[\x21-\x7e])?",
}
# Boundary characters of the patterns' classes, other digits and blanks, a trailing newline;
# and strings each pattern matches.
_CANDIDATES = st.one_of(
    st.text(alphabet=st.sampled_from("+09aZ_ -~\x1f\x20\x21\x7e\x7f\n٣²é"), max_size=70),
    *(st.from_regex(pattern, fullmatch=True) for pattern in PATTERNS.values()),
)


@settings(max_examples=300, deadline=None)
@given(text=_CANDIDATES, kind=st.sampled_from(sorted(PATTERNS)))
def test_each_models_pattern_answers_as_its_compiled_pattern_first_and_later(text: str, kind: str) -> None:
    from smsgate import _checks as _models

    expected = re.fullmatch(PATTERNS[kind], text) is not None
    # A fresh stand-in under a name of its own: its first answer, then the compiled one's.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            _models, "_probe", _models._fullmatch_on_first_use("_probe", PATTERNS[kind]), raising=False
        )
        assert (_models._probe(text) is not None) is expected  # type: ignore[attr-defined]
        assert (_models._probe(text) is not None) is expected  # type: ignore[attr-defined]
    # The module's own matcher, in whichever state the run left it.
    matcher = getattr(_models, f"_{kind}_fullmatch")
    assert (matcher(text) is not None) is expected


#: The value classes a send does not need, by the module that defines them.
LATER = {
    "smsgate._mms": ["Mms", "MmsPart"],
    "smsgate._reports": ["Balance", "CallbackReply", "DeliveryReport", "DeliveryStatus", "InboundMessage"],
}


def test_the_value_classes_a_send_does_not_need_are_built_on_their_first_use() -> None:
    """``import smsgate`` builds the message, its receipt and the provider's capabilities; the
    MMS, balance, report, inbound and push-reply classes (an attrs class compiles its
    ``__init__`` when it is created) are built by the first name that reads them, through the
    package, ``smsgate._models`` or ``smsgate._provider`` alike, each the same object."""
    script = (
        "import json, sys\nimport smsgate\n"
        "before = sorted(m for m in ('smsgate._mms', 'smsgate._reports') if m in sys.modules)\n"
        "from smsgate._models import Balance, DeliveryReport, DeliveryStatus, InboundMessage, Mms, MmsPart\n"
        "from smsgate._provider import CallbackReply\n"
        "from smsgate import _mms, _reports\n"
        "import smsgate._models as models, smsgate._provider as provider\n"
        "same = {n: getattr(smsgate, n) is getattr(m, n) for m in (_mms, _reports) for n in m.__all__}\n"
        "same |= {'models.' + n: getattr(models, n) is getattr(smsgate, n) for n in"
        " ('Balance', 'DeliveryReport', 'DeliveryStatus', 'InboundMessage', 'Mms', 'MmsPart')}\n"
        "same['provider.CallbackReply'] = provider.CallbackReply is smsgate.CallbackReply\n"
        "reply = smsgate.Provider().callback_reply(False)\n"
        "reply = [type(reply).__name__, reply.status_code]\n"
        "all_ = {m.__name__: m.__all__ for m in (_mms, _reports)}\n"
        "print(json.dumps({'before': before, 'same': same, 'reply': reply, 'all': all_}))\n"
    )
    result = json.loads(_fresh(script))
    assert result["before"] == []
    assert result["all"] == LATER
    assert len(result["same"]) == 14
    assert all(result["same"].values()), result["same"]
    assert result["reply"] == ["CallbackReply", 500]


def test_the_models_modules_answer_no_other_name() -> None:
    from smsgate import _models, _provider

    with pytest.raises(AttributeError, match="has no attribute 'Nothing'"):
        _models.Nothing  # noqa: B018
    with pytest.raises(AttributeError, match="has no attribute 'Nothing'"):
        _provider.Nothing  # noqa: B018
