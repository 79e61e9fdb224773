"""The console's users and ACL views on a broker with SCRAM and an authorizer: each user and
mechanism with its iterations, each ACL, and the kctl command that shows the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from kctl.connect.cluster import Settings
from kctl.tui.app import KctlTui
from kctl.tui.views import AclsScreen, UsersScreen
from tests.broker.conftest import BrokerProcess
from tests.broker.test_scram_users import ADMIN, ADMIN_PASSWORD

from .conftest import table_keys, wait_for, wait_rows
from .test_console import text_of


async def test_users_view_lists_scram_credentials(tmp_path: Path, private_config: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    broker = BrokerProcess(tmp_path / "data", {"listeners": "SASL_PLAINTEXT://127.0.0.1:0",
                                               "sasl.enabled.mechanisms": "SCRAM-SHA-512",
                                               f"sasl.users.{ADMIN}": ADMIN_PASSWORD,
                                               "authorizer.class.name": "kctl", "super.users": f"User:{ADMIN}"}).start()
    try:
        monkeypatch.setenv("ADMIN_PW", ADMIN_PASSWORD)
        private_config.write_text(f'[contexts.secure]\nbootstrap-servers = "{broker.bootstrap}"\n'
                                  f'sasl = {{ mechanism = "SCRAM-SHA-512", username = "{ADMIN}", '
                                  'password-env = "ADMIN_PW" }\n')
        app = KctlTui(Settings(context="secure", timeout=10), cursor_blink=False)
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.press("colon", *"users", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, UsersScreen), "the users view")
            await wait_rows(pilot, app, 1)
            assert table_keys(app) == [f"{ADMIN}/SCRAM-SHA-512"]
            assert app.screen.data["users"][0]["iterations"] == 4096  # type: ignore[attr-defined]
            assert "kctl --context secure users list" in text_of(app, "#hint")
            await kctl_as_admin(broker, "acls", "allow", "User:bob", "read", "topic:orders-*")
            await pilot.press("colon", *"acls", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, AclsScreen), "the ACL view")
            await wait_rows(pilot, app, 1)
            row = app.screen.data["acls"][0]  # type: ignore[attr-defined]
            assert (row["principal"], row["operation"], row["resource"], row["pattern"]) == (
                "User:bob", "READ", "orders-", "PREFIXED")
            assert "kctl --context secure acls list" in text_of(app, "#hint")
    finally:
        broker.stop()


async def kctl_as_admin(broker: BrokerProcess, *args: str) -> None:
    """`kctl` in a subprocess, as the console's context (the environment the test set)."""
    import asyncio
    import sys

    done = await asyncio.create_subprocess_exec(sys.executable, "-m", "kctl", "--context", "secure", *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await done.communicate()
    assert done.returncode == 0, err.decode()
