"""Shell completion: the scripts for bash, zsh and fish, and live topic and group names.

Names come from the cluster the command line points at (-b, --context, or the current context),
with a short timeout; completion never starts the built-in broker and never fails loudly.
"""

from __future__ import annotations

import os
from typing import Any

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_KCTL_COMPLETE"


def script(shell: str) -> str:
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name="kctl", complete_var=COMPLETE_VAR, shell=shell)


def _names(ctx: Any, what: str) -> list[str]:
    import asyncio

    from kctl.connect.cluster import Settings, cluster_for
    from kctl.connect.contexts import resolve
    from kctl.connect.local import listening

    root = ctx.find_root()
    try:
        context = resolve(root.params.get("bootstrap_server") or os.environ.get("KCTL_BOOTSTRAP_SERVERS"),
                          root.params.get("context"))
        if context.local and not listening(context.bootstrap_servers):
            return []

        async def fetch() -> list[str]:
            cluster = cluster_for(context, Settings(timeout=2.0))
            try:
                if what == "topics":
                    await cluster.refresh_metadata(None)
                    return sorted(t for t, info in cluster.topics.items() if not info.internal)
                from kctl.client import Admin

                await cluster.start()
                return [g.group_id for g in await Admin(cluster).list_groups()]
            finally:
                await cluster.close()

        return asyncio.run(asyncio.wait_for(fetch(), 3.0))
    except Exception:  # a shell completion must never print a traceback
        return []


def complete_topics(ctx: Any, incomplete: str) -> list[str]:
    return [t for t in _names(ctx, "topics") if t.startswith(incomplete)]


def complete_groups(ctx: Any, incomplete: str) -> list[str]:
    return [g for g in _names(ctx, "groups") if g.startswith(incomplete)]
