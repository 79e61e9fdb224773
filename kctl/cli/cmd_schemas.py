"""kctl schemas: subjects, versions, registering and checking schemas, compatibility levels and modes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from kctl.ops.cells import Column

from . import declare as cli
from .errors import REFUSED, CliError
from .options import OutputOpt, YesOpt
from .output import Output, Table, render
from .runtime import command_line, confirm, execute_registry

if TYPE_CHECKING:
    from kctl.client.schema_registry import RegistryClient
    from kctl.connect.contexts import Context

schemas_app = cli.Group(
    help="Schema Registry: subjects, versions, registering and checking schemas, compatibility and modes.",
    no_args_is_help=True,
)

TypeOpt = Annotated[str | None, cli.Option("--type", "-t", help="avro, protobuf or json (default: from the file "
                                                                  "name: .avsc, .proto, .json).")]
ReferenceOpt = Annotated[list[str] | None, cli.Option("--reference", "-r", metavar="NAME=SUBJECT:VERSION",
                                                        help="A schema this one uses (repeatable).")]
SUBJECT_COLUMNS = [Column("subject", "SUBJECT"), Column("version", "VERSION", numeric=True),
                   Column("id", "ID", numeric=True), Column("type", "TYPE"),
                   Column("versions", "VERSIONS", numeric=True)]


def _settings(ctx: cli.Context) -> Any:
    return ctx.obj


@schemas_app.command("list")
def schemas_list(
    ctx: cli.Context,
    prefix: Annotated[str | None, cli.Option("--prefix", help="Only subjects starting with this.")] = None,
    deleted: Annotated[bool, cli.Option("--deleted", help="Include soft-deleted subjects.")] = False,
    output: OutputOpt = "table",
) -> None:
    """Subjects with their latest version, its schema id and type, and how many versions."""

    async def body(registry: RegistryClient, context: Context) -> Output:
        from kctl.ops.schemas import subject_rows

        rows = await subject_rows(registry, deleted=deleted, prefix=prefix)
        return Output(rows, [Table(rows, SUBJECT_COLUMNS)])

    execute_registry(_settings(ctx), body, fmt=output)


@schemas_app.command("get")
def schemas_get(
    ctx: cli.Context,
    subject: Annotated[str | None, cli.Argument(help="The subject (or use --id).")] = None,
    version: Annotated[str, cli.Option("--version", "-v", help="A version number, or latest.")] = "latest",
    schema_id: Annotated[int | None, cli.Option("--id", help="A schema by its id instead.")] = None,
    output: OutputOpt = "table",
) -> None:
    """A schema: its subject, version, id, type, references and text."""

    async def body(registry: RegistryClient, context: Context) -> Output:
        from kctl.ops.schemas import describe, pretty
        from kctl.protocol.registry import SchemaType

        found = await describe(registry, subject, version, schema_id)
        summary = [(k, found[k]) for k in ("subject", "version", "id", "type", "compatibility") if found.get(k)]
        if found["references"]:
            summary.append(("references", ", ".join(
                f"{r['name']}={r['subject']}:{r['version']}" for r in found["references"])))
        if found.get("used_by"):
            summary.append(("used by", ", ".join(f"{u['subject']}:{u['version']}" for u in found["used_by"])))
        text = pretty(found["schema"], SchemaType(found["type"]))
        return Output(found, [Table([{"schema": line} for line in text.splitlines()], [Column("schema", "SCHEMA")])],
                      summary)

    execute_registry(_settings(ctx), body, fmt=output)


@schemas_app.command("versions")
def schemas_versions(
    ctx: cli.Context,
    subject: Annotated[str, cli.Argument(help="The subject.")],
    deleted: Annotated[bool, cli.Option("--deleted", help="Include soft-deleted versions.")] = False,
    output: OutputOpt = "table",
) -> None:
    """A subject's versions with their schema ids."""

    async def body(registry: RegistryClient, context: Context) -> Output:
        rows = []
        for number in await registry.versions(subject, deleted=deleted):
            found = await registry.version(subject, number, deleted=deleted)
            rows.append({"subject": subject, "version": number, "id": found.schema_id,
                         "type": found.schema_type.value})
        columns = [Column("version", "VERSION", numeric=True), Column("id", "ID", numeric=True),
                   Column("type", "TYPE")]
        return Output(rows, [Table(rows, columns)])

    execute_registry(_settings(ctx), body, fmt=output)


@schemas_app.command("register")
def schemas_register(
    ctx: cli.Context,
    subject: Annotated[str, cli.Argument(help="The subject, e.g. orders-value.")],
    file: Annotated[Path, cli.Argument(help="The schema file (.avsc, .proto, .json).")],
    schema_type: TypeOpt = None,
    reference: ReferenceOpt = None,
    output: OutputOpt = "table",
) -> None:
    """Register a schema under a subject (a new version, unless the subject already has it)."""
    from kctl.ops.schemas import schema_from_file

    schema = schema_from_file(file, schema_type, reference)

    async def body(registry: RegistryClient, context: Context) -> Output:
        from kctl.ops.schemas import check_locally, resolve_references

        pinned = await resolve_references(registry, schema)
        await check_locally(registry, pinned)
        schema_id = await registry.register(subject, pinned)
        found = await registry.lookup(subject, pinned)
        row = {"subject": subject, "version": found.version, "id": schema_id, "type": pinned.schema_type.value}
        return Output(row, summary=list(row.items()))

    execute_registry(_settings(ctx), body, fmt=output, changes=True)


@schemas_app.command("check")
def schemas_check(
    ctx: cli.Context,
    subject: Annotated[str, cli.Argument(help="The subject to check against.")],
    file: Annotated[Path, cli.Argument(help="The new schema file (.avsc, .proto, .json).")],
    schema_type: TypeOpt = None,
    reference: ReferenceOpt = None,
    version: Annotated[str | None, cli.Option(
        "--version", "-v", help="Check against this version only (default: every version the subject's "
                                "compatibility level covers).")] = None,
    output: OutputOpt = "table",
) -> None:
    """Would the registry accept this schema? Exit 8 with the reasons when it would not."""
    from kctl.ops.schemas import schema_from_file

    schema = schema_from_file(file, schema_type, reference)

    async def body(registry: RegistryClient, context: Context) -> Output:
        from kctl.client.errors import RegistryError
        from kctl.ops.schemas import check_locally, resolve_references

        pinned = await resolve_references(registry, schema)
        await check_locally(registry, pinned)
        try:
            issues = await registry.compatibility(subject, pinned, version)
        except RegistryError as exc:
            if exc.code != 40401:
                raise
            issues = []  # a new subject accepts any valid schema
        level = await registry.get_compatibility(subject)
        result = {"subject": subject, "compatibility": level, "compatible": not issues, "messages": issues}
        rows = [{"message": m} for m in issues]
        out = Output(result, [Table(rows, [Column("message", "WHY")])] if rows else [],
                     [("subject", subject), ("compatibility", level), ("compatible", "yes" if not issues else "no")])
        if issues:
            render(out, output)
            raise CliError(f"{file.name} is not {level} compatible with {subject}",
                           "change the schema, or the subject's level with `kctl schemas compatibility`", REFUSED)
        return out

    execute_registry(_settings(ctx), body, fmt=output)


@schemas_app.command("compatibility")
def schemas_compatibility(
    ctx: cli.Context,
    subject: Annotated[str | None, cli.Argument(help="The subject (default: the registry's global level).")] = None,
    set_level: Annotated[str | None, cli.Option(
        "--set", metavar="LEVEL", help="NONE, BACKWARD, FORWARD, FULL, each also _TRANSITIVE.")] = None,
    output: OutputOpt = "table",
) -> None:
    """Show or set the compatibility level, of a subject or of the whole registry."""
    _show_or_set(ctx, "compatibility", subject, set_level, output)


@schemas_app.command("mode")
def schemas_mode(
    ctx: cli.Context,
    subject: Annotated[str | None, cli.Argument(help="The subject (default: the registry's global mode).")] = None,
    set_mode: Annotated[str | None, cli.Option(
        "--set", metavar="MODE", help="READWRITE, READONLY, READONLY_OVERRIDE or IMPORT.")] = None,
    output: OutputOpt = "table",
) -> None:
    """Show or set the mode: READONLY stops new versions (during a migration, say)."""
    _show_or_set(ctx, "mode", subject, set_mode, output)


def _show_or_set(ctx: cli.Context, setting: str, subject: str | None, new: str | None, output: str) -> None:
    """A subject's (or the registry's) compatibility level or mode: set it first when `new` is given."""

    async def body(registry: RegistryClient, context: Context) -> Output:
        get, put = ((registry.get_compatibility, registry.set_compatibility) if setting == "compatibility"
                    else (registry.get_mode, registry.set_mode))
        if new is not None:
            from kctl.ops.journal import journaled

            before = await registry.own_setting(setting, subject)
            await journaled(registry.url, context.name, command_line(), f"schema-{setting}",
                            {"registry": registry.url, "subject": subject}, before, new.upper(),
                            lambda: put(new, subject))
        value = await get(subject)
        return Output({"subject": subject, setting: value}, summary=[("subject", subject or "(global)"),
                                                                     (setting, value)])

    execute_registry(_settings(ctx), body, fmt=output, changes=new is not None)


@schemas_app.command("delete")
def schemas_delete(
    ctx: cli.Context,
    subject: Annotated[str, cli.Argument(help="The subject.")],
    version: Annotated[str | None, cli.Option("--version", "-v", help="Only this version.")] = None,
    permanent: Annotated[bool, cli.Option("--permanent", help="Delete for good (after a soft delete).")] = False,
    yes: YesOpt = False,
    output: OutputOpt = "table",
) -> None:
    """Soft-delete a subject or one version (readers can still fetch it by id); --permanent removes it."""

    async def body(registry: RegistryClient, context: Context) -> Output:
        what = f"{subject} version {version}" if version else f"every version of {subject}"
        if permanent:
            confirm(f"permanently deleting {what} on {context.name} cannot be undone", subject, yes)
        if version is not None:
            versions = [await registry.delete_version(subject, version, permanent=permanent)]
        else:
            versions = await registry.delete_subject(subject, permanent=permanent)
        result = {"subject": subject, "versions": versions, "permanent": permanent}
        return Output(result, summary=[("subject", subject), ("deleted versions", ", ".join(map(str, versions))),
                                       ("permanent", "yes" if permanent else "no (soft)")])

    execute_registry(_settings(ctx), body, fmt=output, changes=True)



#: The commands this module gives `kctl` (an alias with its own help as a pair); the one list,
#: indexed by `python -m kctl.cli.docs` into commands.json so each module loads when its command runs.
COMMANDS: dict[str, Any] = {"schemas": schemas_app}

__all__ = ["schemas_app"]
