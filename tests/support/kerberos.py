"""A throwaway MIT Kerberos realm for the tests: Debian's `krb5-kdc` run on a free port, with a
database, principals and keytabs in a temporary directory.

    with Kdc(tmp_path) as kdc:
        keytab = kdc.add_principal("kctl")              # kctl@KCTL.TEST
        kdc.add_principal("kafka/127.0.0.1")            # a broker's service principal
        env = kdc.env                                    # KRB5_CONFIG for clients

Without the KDC's programs the tests skip, saying why; CI sets KCTL_REQUIRE_KERBEROS=1 and fails
instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.ports import free_port

REALM = "KCTL.TEST"
REQUIRE_ENV = "KCTL_REQUIRE_KERBEROS"
PROGRAMS = ("krb5kdc", "kdb5_util", "kadmin.local")


def _program(name: str) -> str | None:
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/local/sbin/{name}")
                                       if os.access(p, os.X_OK)), None)


def require_kdc() -> None:
    missing = [name for name in PROGRAMS if _program(name) is None]
    if missing:
        reason = f"MIT Kerberos' KDC is not installed ({', '.join(missing)} missing; Debian: krb5-kdc " \
                 "krb5-admin-server)"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {reason}", pytrace=False)
        pytest.skip(reason)


class Kdc:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.krb5_conf = workdir / "krb5.conf"
        self.kdc_conf = workdir / "kdc.conf"

    @property
    def env(self) -> dict[str, str]:
        """What a Kerberos client (kinit, the gssapi package) needs to find this realm."""
        return {"KRB5_CONFIG": str(self.krb5_conf), "KRB5_KDC_PROFILE": str(self.kdc_conf)}

    def _run(self, *args: str) -> str:
        done = subprocess.run(list(args), env={**os.environ, **self.env}, capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self) -> Kdc:
        require_kdc()
        self.workdir.mkdir(parents=True, exist_ok=True)
        # No DNS: 127.0.0.1 stays 127.0.0.1 in service principals, and tickets go over TCP, which
        # Java's Kerberos and MIT's both speak.
        self.krb5_conf.write_text(f"""[libdefaults]
    default_realm = {REALM}
    dns_lookup_realm = false
    dns_lookup_kdc = false
    dns_canonicalize_hostname = false
    rdns = false
    udp_preference_limit = 1
    ticket_lifetime = 1h
    forwardable = true

[realms]
    {REALM} = {{
        kdc = 127.0.0.1:{self.port}
        admin_server = 127.0.0.1:{free_port()}
    }}

[domain_realm]
    127.0.0.1 = {REALM}
    localhost = {REALM}
""")
        self.kdc_conf.write_text(f"""[kdcdefaults]
    kdc_ports = {self.port}
    kdc_tcp_ports = {self.port}

[realms]
    {REALM} = {{
        database_name = {self.workdir / 'principal'}
        key_stash_file = {self.workdir / 'stash'}
        acl_file = {self.workdir / 'kadm5.acl'}
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
        max_life = 1h
    }}

[logging]
    kdc = FILE:{self.workdir / 'kdc.log'}
""")
        (self.workdir / "kadm5.acl").write_text("")
        self._run(_program("kdb5_util") or "kdb5_util", "create", "-s", "-r", REALM, "-P", "throwaway-master")
        with open(self.workdir / "kdc.stdout", "ab") as log:
            self.proc = subprocess.Popen([_program("krb5kdc") or "krb5kdc", "-n", "-r", REALM],
                                         env={**os.environ, **self.env}, stdout=log, stderr=log,
                                         start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"krb5kdc exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"krb5kdc did not listen on {self.port}:\n{self.log()}")

    def add_principal(self, name: str) -> Path:
        """Create `name@REALM` with a random key; its keytab's path."""
        keytab = self.workdir / (name.replace("/", "_") + ".keytab")
        kadmin = _program("kadmin.local") or "kadmin.local"
        self._run(kadmin, "-r", REALM, "-q", f"addprinc -randkey {name}@{REALM}")
        self._run(kadmin, "-r", REALM, "-q", f"ktadd -k {keytab} {name}@{REALM}")
        return keytab

    def log(self) -> str:
        path = self.workdir / "kdc.log"
        out = path.read_text(errors="replace") if path.exists() else ""
        stdout = self.workdir / "kdc.stdout"
        return out + (stdout.read_text(errors="replace") if stdout.exists() else "")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def __enter__(self) -> Kdc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
