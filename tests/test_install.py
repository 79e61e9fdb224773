"""kctl installed as users install CLI tools: a wheel, with `uv tool install` and `pipx install`,
into environments outside the checkout. The console finds its themes, `man kctl-tail` finds its
page, the shell completions are where shells look, and `kctl broker start` serves clients.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
TOOLS = [tool for tool in ("uv", "pipx") if shutil.which(tool, path=str(Path(sys.executable).parent))]
# Each installer works in its own environment: nothing of the checkout or the tests' venv leaks in.
pytestmark = pytest.mark.skipif(not TOOLS, reason="uv and pipx are test dependencies: pip install -e '.[test]'")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    return next(out.glob("kctl-*.whl"))


def _installed(tool: str, wheel: Path, home: Path) -> tuple[dict[str, str], Path]:
    """kctl installed by `tool` under `home`: the environment to run it in, and its venv."""
    bin_dir = Path(sys.executable).parent
    inherited = {k: v for k, v in os.environ.items()  # the network's settings (proxies, CAs) stay
                 if not k.startswith(("KCTL_", "PYTHON", "VIRTUAL_ENV", "XDG_", "PIPX_", "UV_TOOL"))}
    env = {**inherited, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
           "XDG_STATE_HOME": str(home / "state"), "XDG_DATA_HOME": str(home / "data"), "LANG": "C.UTF-8",
           "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR", str(Path.home() / ".cache" / "uv")),
           "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),
           "UV_PYTHON_DOWNLOADS": "never"}
    if tool == "uv":
        env |= {"UV_TOOL_DIR": str(home / "tools"), "UV_TOOL_BIN_DIR": str(home / "bin")}
        command = [str(bin_dir / "uv"), "tool", "install", "--python", sys.executable, str(wheel)]
        venv = home / "tools" / "kctl"
    else:
        env |= {"PIPX_HOME": str(home / "pipx"), "PIPX_BIN_DIR": str(home / "bin"), "PIPX_MAN_DIR": str(home / "man")}
        command = [str(bin_dir / "pipx"), "install", "--python", sys.executable, str(wheel)]
        venv = home / "pipx" / "venvs" / "kctl"
    done = subprocess.run(command, env=env, cwd=home, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    env["PATH"] = f"{home / 'bin'}:{env['PATH']}"
    return env, venv


def _run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(args)}: {done.stdout}{done.stderr}"
    return done


@pytest.mark.parametrize("tool", TOOLS)
def test_an_installed_kctl_has_its_themes_man_pages_completions_and_broker(tool: str, wheel: Path,
                                                                           tmp_path: Path) -> None:
    env, venv = _installed(tool, wheel, tmp_path)
    kctl = str(tmp_path / "bin" / "kctl")
    assert _run(env, tmp_path, kctl, "--version").stdout.startswith("kctl ")
    # Nothing is read from the checkout.
    where = _run(env, tmp_path, str(venv / "bin" / "python"), "-c", "import kctl; print(kctl.__file__)").stdout
    assert str(ROOT) not in where and str(venv) in where

    # man finds the pages beside the tool's bin/ (man-db's path from PATH), or where pipx links them.
    man_env = {**env, "PATH": f"{venv / 'bin'}:{env['PATH']}", "MANPAGER": "cat", "PAGER": "cat", "COLUMNS": "100"}
    if tool == "pipx":
        man_env["MANPATH"] = f"{tmp_path / 'man'}:"
    page = _run(man_env, tmp_path, "man", "kctl-tail").stdout
    assert "kctl tail" in page and "last 10" in page

    for shell, path in (("bash", "share/bash-completion/completions/kctl"), ("zsh", "share/zsh/site-functions/_kctl"),
                        ("fish", "share/fish/vendor_completions.d/kctl.fish")):
        assert (venv / path).read_text() == _run(env, tmp_path, kctl, "completion", shell).stdout
    completed = _run({**env, "_KCTL_COMPLETE": "bash", "COMP_WORDS": "kctl top", "COMP_CWORD": "1"},
                     tmp_path, kctl).stdout
    assert "topics" in completed.split()

    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    broker = subprocess.Popen([kctl, "broker", "start", "--data-dir", str(tmp_path / "broker"), "--listen", bootstrap,
                               "--schema-registry", "off"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert broker.poll() is None and time.monotonic() < deadline, "the installed broker did not start"
                time.sleep(0.2)
        _run(env, tmp_path, kctl, "topics", "create", "installed", "-p", "2", "-b", bootstrap)
        _run({**env, "KCTL_BOOTSTRAP_SERVERS": bootstrap}, tmp_path, kctl, "produce", "installed", "hello")
        tailed = _run(env, tmp_path, kctl, "tail", "installed", "-b", bootstrap, "--format", "{value}").stdout
        assert tailed.split() == ["hello"]
        # The console, headless, with the installed themes.
        script = textwrap.dedent(f"""
            import asyncio
            from kctl.connect.cluster import Settings
            from kctl.tui.app import KctlTui

            async def main() -> None:
                app = KctlTui(Settings(bootstrap={bootstrap!r}, timeout=10), cursor_blink=False)
                async with app.run_test(size=(120, 40)) as pilot:
                    for _ in range(200):
                        await pilot.pause(0.05)
                        if "installed" in str(app.screen.query_one("DataTable").rows):
                            break
                    print("theme", app.theme)
                    print("themes", *sorted(app._themes))
                    print("topics", *[str(k.value) for k in app.screen.query_one("DataTable").rows])
                    await pilot.press("q")

            asyncio.run(main())
        """)
        shown = _run(env, tmp_path, str(venv / "bin" / "python"), "-c", script).stdout
        assert "theme kctl-dark" in shown, shown
        assert "kctl-high-contrast" in shown and "kctl-production" in shown, shown
        assert "installed" in shown.split("topics", 1)[1], shown
    finally:
        broker.send_signal(signal.SIGTERM)
        try:
            assert broker.wait(30) == 0
        finally:
            if broker.poll() is None:
                broker.kill()
            broker.communicate()
