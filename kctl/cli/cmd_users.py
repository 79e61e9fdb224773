"""kctl users: SCRAM users and their credentials. Passwords come from a prompt or the environment,
never from an argument (which the shell's history and `ps` would show)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

from kctl.ops.cells import Column

from . import declare as cli
from .errors import USAGE, CliError
from .options import OutputOpt, YesOpt
from .output import Output, Table
from .runtime import confirm, execute

if TYPE_CHECKING:
    from kctl.client.cluster import Cluster
    from kctl.connect.contexts import Context

users_app = cli.Group(help="SCRAM users: list, create, change a password, delete.", no_args_is_help=True)

COLUMNS = [Column("user", "USER"), Column("mechanism", "MECHANISM"), Column("iterations", "ITERATIONS", numeric=True)]
MechanismOpt = Annotated[list[str] | None, cli.Option(
    "--mechanism", "-m", help="SCRAM-SHA-256 or SCRAM-SHA-512 (repeatable; create's default SCRAM-SHA-512, "
                              "passwd's every one the user has).")]
IterationsOpt = Annotated[int, cli.Option("--iterations", help="PBKDF2 iterations, 4096 to 16384.")]
PasswordEnvOpt = Annotated[str | None, cli.Option(
    "--password-env", metavar="VAR", help="Read the password from this environment variable instead of a prompt.")]


def _settings(ctx: cli.Context) -> Any:
    return ctx.obj


def read_password(variable: str | None, user: str) -> str:
    """The password from $VARIABLE, or typed twice at a prompt that does not echo it."""
    if variable is not None:
        password = os.environ.get(variable)
        if password is None:
            raise CliError(f"${variable} is not set", "export it first, or leave out --password-env to be asked",
                           USAGE)
        return password
    if not sys.stdin.isatty():
        raise CliError("no terminal to ask for the password", "pass --password-env VAR in scripts", USAGE)
    import getpass

    first = getpass.getpass(f"password for {user}: ")
    if getpass.getpass("again: ") != first:
        raise CliError("the two passwords differ; nothing was changed", None, USAGE)
    return first


@users_app.command("list")
def users_list(
    ctx: cli.Context,
    users: Annotated[list[str] | None, cli.Argument(help="Users (default: every user).")] = None,
    output: OutputOpt = "table",
) -> None:
    """Users with a SCRAM credential: one row per mechanism, with its iterations."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client import Admin
        from kctl.ops.users import user_rows

        rows = await user_rows(Admin(cluster), users or [])
        return Output(rows, [Table(rows, COLUMNS)])

    execute(_settings(ctx), body, fmt=output)


def _set(ctx: cli.Context, user: str, mechanism: list[str] | None, iterations: int, password_env: str | None,
         output: str, *, new_user: bool) -> None:
    password = read_password(password_env, user)

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client import Admin
        from kctl.ops.users import set_password

        rows = await set_password(Admin(cluster), user, password, mechanism or [], iterations, new_user=new_user)
        return Output(rows, [Table(rows, COLUMNS)])

    execute(_settings(ctx), body, fmt=output, changes=True)


@users_app.command("create")
def users_create(
    ctx: cli.Context,
    user: Annotated[str, cli.Argument(help="The user name.")],
    mechanism: MechanismOpt = None,
    iterations: IterationsOpt = 8192,
    password_env: PasswordEnvOpt = None,
    output: OutputOpt = "table",
) -> None:
    """Create a SCRAM user (refused if it already has a credential for the mechanism)."""
    _set(ctx, user, mechanism, iterations, password_env, output, new_user=True)


@users_app.command("passwd")
def users_passwd(
    ctx: cli.Context,
    user: Annotated[str, cli.Argument(help="The user name.")],
    mechanism: MechanismOpt = None,
    iterations: IterationsOpt = 8192,
    password_env: PasswordEnvOpt = None,
    output: OutputOpt = "table",
) -> None:
    """Change a SCRAM user's password (for every mechanism it has, unless --mechanism says)."""
    _set(ctx, user, mechanism, iterations, password_env, output, new_user=False)


@users_app.command("delete")
def users_delete(
    ctx: cli.Context,
    user: Annotated[str, cli.Argument(help="The user name.")],
    mechanism: MechanismOpt = None,
    yes: YesOpt = False,
    output: OutputOpt = "table",
) -> None:
    """Delete a SCRAM user's credentials (every mechanism, unless --mechanism says)."""

    async def body(cluster: Cluster, context: Context) -> Output:
        from kctl.client import Admin
        from kctl.ops.users import delete_user

        confirm(f"deleting user {user} on {context.name}: it can no longer log in", user, yes)
        deleted = await delete_user(Admin(cluster), user, mechanism or [])
        result = {"user": user, "deleted": deleted}
        return Output(result, summary=[("user", user), ("deleted", ", ".join(deleted))])

    execute(_settings(ctx), body, fmt=output, changes=True)



#: The commands this module gives `kctl` (an alias with its own help as a pair); the one list,
#: indexed by `python -m kctl.cli.docs` into commands.json so each module loads when its command runs.
COMMANDS: dict[str, Any] = {"users": users_app}

__all__ = ["users_app"]
