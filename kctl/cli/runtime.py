"""Running a command: pick the cluster, connect, run the async body, render, map errors to exit codes."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from .contexts import Context, resolve
from .errors import AUTH, REFUSED, USAGE, CliError, to_cli_error
from .output import FORMATS, Output, render

if TYPE_CHECKING:
    import ssl


@dataclass(slots=True)
class Settings:
    """The global options, as `kctl [OPTIONS] COMMAND` received them."""

    bootstrap: str | None = None
    context: str | None = None
    timeout: float = 30.0


def fail(error: BaseException) -> NoReturn:
    problem = to_cli_error(error)
    sys.stderr.write(f"kctl: error: {problem.message}\n")
    if problem.hint:
        sys.stderr.write(f"  hint: {problem.hint}\n")
    sys.stderr.flush()
    raise SystemExit(problem.code)


def check_format(fmt: str, allowed: tuple[str, ...] = FORMATS) -> str:
    if fmt not in allowed:
        raise CliError(f"unknown output format {fmt!r}", f"use one of: {', '.join(allowed)}", USAGE)
    return fmt


def _ssl_context(ctx: Context) -> ssl.SSLContext | None:
    tls = ctx.tls
    if not tls or not tls.get("enabled", True):
        return None
    import ssl

    context = ssl.create_default_context(cafile=tls.get("ca-file"))
    if tls.get("cert-file"):
        context.load_cert_chain(tls["cert-file"], tls.get("key-file"))
    if tls.get("insecure-skip-verify"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _authenticator(ctx: Context) -> Any:
    """The context's `sasl = { mechanism, username, password | password-env }`, if any."""
    if not ctx.sasl:
        return None
    from kctl.client.sasl import SaslAuthenticator
    from kctl.protocol.sasl import MECHANISMS

    sasl = ctx.sasl
    mechanism = str(sasl.get("mechanism", "PLAIN")).upper()
    if mechanism not in MECHANISMS:
        raise CliError(f"context {ctx.name!r}: SASL mechanism {mechanism!r} is not supported",
                       f"use one of {', '.join(MECHANISMS)}", USAGE)
    username = sasl.get("username")
    if not username:
        raise CliError(f"context {ctx.name!r}: sasl needs a username", None, USAGE)
    password = sasl.get("password")
    if password is None and sasl.get("password-env"):
        import os

        password = os.environ.get(str(sasl["password-env"]))
        if password is None:
            raise CliError(f"context {ctx.name!r}: ${sasl['password-env']} is not set",
                           "export it, or put password = \"...\" in the context", AUTH)
    if password is None:
        raise CliError(f"context {ctx.name!r}: sasl needs password or password-env", None, USAGE)
    return SaslAuthenticator(mechanism, str(username), str(password))


def cluster_for(ctx: Context, settings: Settings) -> Any:
    from kctl.client import Cluster

    return Cluster(ctx.bootstrap_servers, client_id=ctx.client_id, request_timeout_s=settings.timeout,
                   connect_timeout_s=min(settings.timeout, 10.0), ssl_context=_ssl_context(ctx),
                   authenticator=_authenticator(ctx))


def execute(
    settings: Settings,
    body: Callable[[Any, Context], Awaitable[Output | None]],
    *,
    fmt: str | None = None,
    changes: bool = False,
    streaming: bool = False,
) -> None:
    """Resolve the context, connect, run `body(cluster, context)`, render its Output (if any).

    `streaming` (tail, produce) runs on uvloop when it is installed; a one-shot admin command
    would spend more importing it than it saves.
    """
    try:
        if fmt is not None:
            check_format(fmt)
        ctx = resolve(settings.bootstrap, settings.context)
        if changes and ctx.read_only:
            raise CliError(f"context {ctx.name!r} is read-only: kctl will not change anything there",
                           "use another context, or set read-only = false for it", REFUSED)
        if ctx.local:
            from .local import start_background

            start_background()
        output = _run(_with_cluster(ctx, settings, body), streaming)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except SystemExit:
        raise
    except BaseException as exc:
        fail(exc)
    if output is not None and fmt is not None:
        render(output, fmt)


async def _with_cluster(ctx: Context, settings: Settings,
                        body: Callable[[Any, Context], Awaitable[Output | None]]) -> Output | None:
    cluster = cluster_for(ctx, settings)
    try:
        await cluster.start()
        return await body(cluster, ctx)
    finally:
        await cluster.close()


def _run(coroutine: Awaitable[Output | None], streaming: bool) -> Output | None:
    import asyncio

    received: list[int] = []
    guarded = _cancelled_by_signals(coroutine, received)
    try:
        if streaming:
            try:
                import uvloop
            except ImportError:
                pass
            else:
                return uvloop.run(guarded)
        return asyncio.run(guarded)
    except asyncio.CancelledError:
        if received:  # the command cleaned up (left its group, committed) and stops as the signal asks
            raise SystemExit(128 + received[0]) from None
        raise


async def _cancelled_by_signals(coroutine: Awaitable[Output | None], received: list[int]) -> Output | None:
    """SIGTERM and SIGHUP cancel the command as Ctrl-C does, so its `finally` and `async with`
    blocks run: a consumer leaves its group (LeaveGroup) instead of lingering until its session
    times out."""
    import asyncio
    import signal

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def on_signal(signum: int) -> None:
        received.append(signum)
        task.cancel()

    signals = (signal.SIGTERM, signal.SIGHUP)
    for signum in signals:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        return await coroutine
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


def confirm(what: str, typed: str, yes: bool) -> None:
    """Ask the user to type `typed` to go ahead; --yes skips it; no terminal means refuse."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise CliError(f"{what}: refusing without confirmation", "pass --yes to confirm in scripts", USAGE)
    sys.stderr.write(f"{what}. Type {typed!r} to confirm: ")
    sys.stderr.flush()
    if sys.stdin.readline().strip() != typed:
        raise CliError("not confirmed; nothing was changed", None, REFUSED)
