"""Global options before or after the command, as kubectl, rpk and kafkactl take them.

click reads a group's options only before its command: `kctl topics list -b HOST` would be
refused, and `-o` (each command's own) only after it. Before click parses, the command line is
reordered: the root's options found after the command move in front of it, and an `-o` found in
front moves behind the command that takes it. An option the command defines itself (the `-b` of
`config set-context`) stays the command's; nothing after `--` moves.
"""

from __future__ import annotations

from typing import Any

#: Options that belong to the commands, not the root, yet may be given before the command.
COMMAND_OPTIONS_ALSO_IN_FRONT = ("-o", "--output")


def _option(params: list[Any], token: str) -> tuple[Any, bool] | None:
    """The option `token` names among `params`, and whether its value is attached to it
    (`--timeout=5`, `-bHOST`); None when it names none of them."""
    for param in params:
        names = [*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ())]
        if getattr(param, "param_type_name", "") != "option":
            continue
        if token in names:
            return param, False
        for name in names:
            if name.startswith("--") and token.startswith(name + "="):
                return param, True
            if len(name) == 2 and not name.startswith("--") and token.startswith(name) and len(token) > 2 \
                    and _takes_value(param):
                return param, True
    return None


def _takes_value(option: Any) -> bool:
    return not (getattr(option, "is_flag", False) or getattr(option, "count", False))


def _span(params: list[Any], args: list[str], at: int) -> tuple[Any, int] | None:
    """The option at `args[at]` and how many tokens it spans (with its values)."""
    found = _option(params, args[at])
    if found is None:
        return None
    option, attached = found
    if attached or not _takes_value(option):
        return option, 1
    return option, 1 + max(1, int(getattr(option, "nargs", 1) or 1))


def _global_options(root: Any) -> list[Any]:
    return [p for p in root.params if getattr(p, "param_type_name", "") == "option"
            and not getattr(p, "is_eager", False)]  # --version and --help act at once, where they are


def place_options(root: Any, args: list[str]) -> list[str]:
    """`args` reordered so that click reads each option where it belongs (see the module's doc)."""
    end = args.index("--") if "--" in args else len(args)
    head, tail = args[:end], args[end:]
    globals_ = _global_options(root)
    front: list[str] = []
    in_front_for_command: list[str] = []
    at = 0
    while at < len(head) and head[at].startswith("-") and head[at] != "-":
        span = _span(globals_, head, at)
        if span is None:
            if head[at].split("=", 1)[0] in COMMAND_OPTIONS_ALSO_IN_FRONT:
                width = 1 if "=" in head[at] else 2
                in_front_for_command += head[at:at + width]
                at += width
                continue
            return args  # an option the root does not know: click says so
        front += head[at:at + span[1]]
        at += span[1]
    path: list[str] = []
    command = root
    hoisted: list[str] = []
    rest: list[str] = []
    while at < len(head):
        token = head[at]
        if token.startswith("-") and token != "-":
            own = _span(list(command.params), head, at)
            if own is not None:
                rest += head[at:at + own[1]]
                at += own[1]
                continue
            span = _span(globals_, head, at)
            if span is not None:
                hoisted += head[at:at + span[1]]
                at += span[1]
                continue
            rest.append(token)
            at += 1
            continue
        if not rest and hasattr(command, "get_command"):  # a group: this token names its command
            sub = command.get_command(None, token)
            if sub is None:
                return args  # no such command: click says so, with suggestions
            path.append(token)
            command = sub
            at += 1
            continue
        rest.append(token)
        at += 1
    if in_front_for_command:
        if _option(list(command.params), in_front_for_command[0].split("=", 1)[0]) is None:
            return args  # this command has no -o: click refuses it where it was given
        rest = in_front_for_command + rest
    return [*front, *hoisted, *path, *rest, *tail]
