"""Running a command: pick the cluster, connect, run the async body, render, map errors to exit codes."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from kctl.connect.cluster import Settings, cluster_for
from kctl.connect.contexts import Context, resolve

from .errors import REFUSED, USAGE, CliError, to_cli_error
from .output import FORMATS, Output, diagnostic, render


def report(error: BaseException) -> int:
    """Tell the user what failed (message and hint, on stderr); the exit code for it."""
    problem = to_cli_error(error)
    sys.stderr.write(f"kctl: error: {problem.message}\n")
    if problem.hint:
        sys.stderr.write(f"  hint: {problem.hint}\n")
    sys.stderr.flush()
    return problem.code


def fail(error: BaseException) -> NoReturn:
    raise SystemExit(report(error))


def guard(action: Callable[[], None]) -> None:
    """Run a command that talks to no cluster (contexts, local files), its errors reported as
    every command's are."""
    try:
        action()
    except SystemExit:
        raise
    except BaseException as exc:
        fail(exc)


def check_format(fmt: str, allowed: tuple[str, ...] = FORMATS) -> str:
    if fmt not in allowed:
        raise CliError(f"unknown output format {fmt!r}", f"use one of: {', '.join(allowed)}", USAGE)
    return fmt


def execute(
    settings: Settings,
    body: Callable[[Any, Context], Awaitable[Output | None]],
    *,
    fmt: str | None = None,
    changes: bool = False,
    streaming: bool = False,
    cluster: bool = True,
    start_local: bool = True,
) -> None:
    """Resolve the context, connect, run `body(cluster, context)`, render its Output (if any).
    With `cluster` False the body gets no cluster (None) and nothing connects to Kafka; with
    `start_local` False the built-in broker is not started for it either.

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
        if ctx.local and start_local:
            from kctl.connect.local import start_background

            start_background(announce=diagnostic)
        output = _run(_with_cluster(ctx, settings, body) if cluster else body(None, ctx), streaming)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except SystemExit:
        raise
    except BaseException as exc:
        fail(exc)
    if output is not None and fmt is not None:
        render(output, fmt)


def execute_registry(
    settings: Settings,
    body: Callable[[Any, Context], Awaitable[Output | None]],
    *,
    fmt: str | None = None,
    changes: bool = False,
) -> None:
    """Like `execute`, for commands that talk to the Schema Registry alone: `body(registry, context)`."""

    async def with_registry(cluster: Any, ctx: Context) -> Output | None:
        from kctl.connect.cluster import registry_for
        from kctl.ops.schemas import no_registry

        registry = registry_for(ctx, settings)
        if registry is None:
            raise no_registry()
        async with registry:
            return await body(registry, ctx)

    execute(settings, with_registry, fmt=fmt, changes=changes, cluster=False)


def execute_connect(
    settings: Settings,
    cluster_name: str | None,
    body: Callable[[Any, Context], Awaitable[Output | None]],
    *,
    fmt: str | None = None,
    changes: bool = False,
) -> None:
    """Like `execute`, for commands that talk to one Kafka Connect cluster: `body(connect, context)`.
    `cluster_name` picks one of the context's connect clusters (the first by default)."""

    async def with_connect(cluster: Any, ctx: Context) -> Output | None:
        from kctl.client.kafka_connect import ConnectClient
        from kctl.connect.cluster import connect_cluster_for

        async with ConnectClient(connect_cluster_for(ctx, settings, cluster_name)) as connect:
            return await body(connect, ctx)

    execute(settings, with_connect, fmt=fmt, changes=changes, cluster=False, start_local=False)


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


def ask_on_terminal(what: str, typed: str, yes: bool, preview: Output | None = None) -> None:
    """For changes a script may make without asking (`--execute`): on a terminal, show `preview`
    and ask for `typed`, unless --yes; without one, go ahead as the script asked."""
    if yes or not sys.stdin.isatty():
        return
    if preview is not None:
        render(preview, "table", sys.stderr)
    confirm(what, typed, yes)


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


def command_line() -> list[str]:
    """This kctl's command line, as the change journal records it."""
    import sys

    return ["kctl", *sys.argv[1:]]

