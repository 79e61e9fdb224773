"""kctl's C extensions: built wherever there is a compiler, absent from a build without one, and
each switched off by KCTL_WITHOUT_C so that its Python twin runs (what the tests on a build
without a compiler, and bench/native.py, rely on)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig

import pytest

from kctl.protocol import native

CODE = "import json, kctl.protocol.native as n; print(json.dumps(n.loaded()))"


def loaded_in_child(**env: str) -> dict[str, bool]:
    import json

    child_env = {k: v for k, v in os.environ.items() if k != "KCTL_WITHOUT_C"} | env
    done = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=child_env, check=True)
    return dict(json.loads(done.stdout))


def test_every_extension_is_built_wherever_there_is_a_compiler_and_none_in_a_build_without_one() -> None:
    found = {module: importlib.util.find_spec(module) is not None for module in native.EXTENSIONS}
    if os.environ.get("KCTL_BUILT_WITHOUT_C") == "1":  # .ci/run's second build, CC=false
        assert not any(found.values()), f"a build without a compiler has C extensions: {found}"
        return
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.skip("no C compiler here")
    assert all(found.values()), f"not built (pip install -e . -v says why): {found}"


def test_each_extension_is_switched_off_by_its_name_or_all() -> None:
    if os.environ.get("KCTL_BUILT_WITHOUT_C") == "1":
        pytest.skip("nothing to switch off in a build without a compiler")
    assert all(loaded_in_child().values())
    assert loaded_in_child(KCTL_WITHOUT_C="all") == dict.fromkeys(native.EXTENSIONS, False)
    assert loaded_in_child(KCTL_WITHOUT_C="_rowtext") == {"kctl.protocol._check_records": True,
                                                          "kctl.cli._rowtext": False}
    assert loaded_in_child(KCTL_WITHOUT_C=" kctl.protocol._check_records,x") == {
        "kctl.protocol._check_records": False, "kctl.cli._rowtext": True}


def test_an_unknown_extension_is_an_error() -> None:
    with pytest.raises(ValueError, match="not one of kctl's C extensions"):
        native.extension("kctl.protocol._decode")  # an extension kctl no longer has
