"""Shell completion, kctl's own: the scripts for bash, zsh and fish, and the answers to them.

A script asks kctl with `_KCTL_COMPLETE=bash|zsh|fish` and the command line in the environment
(`COMP_WORDS` and `COMP_CWORD`: the words and the index of the one being completed; fish passes
the line and the word being completed). kctl answers one candidate per line (`value:help` for
zsh, `value<TAB>help` for fish) from its command tree through click's public API: subcommands,
options (the global ones anywhere), and option and argument values, such as live topic and group
names.

Names come from the cluster the command line points at (-b, --context, or the current context),
with a short timeout; completion never starts the built-in broker and never fails loudly.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_KCTL_COMPLETE"

_SCRIPTS = {
    "bash": """\
_kctl_completion() {
    local IFS=$'\\n'
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" COMP_CWORD=$COMP_CWORD _KCTL_COMPLETE=bash "$1" 2>/dev/null ) )
    return 0
}

complete -o default -F _kctl_completion kctl
""",
    "zsh": """\
#compdef kctl

_kctl() {
    local -a candidates
    candidates=("${(@f)$(env COMP_WORDS="${words[*]}" COMP_CWORD=$((CURRENT - 1)) \
        _KCTL_COMPLETE=zsh kctl 2>/dev/null)}")
    if [[ -n "${candidates[1]}" ]]; then
        _describe 'kctl' candidates
    else
        _files
    fi
}

compdef _kctl kctl
""",
    "fish": """\
function __kctl_complete
    set -lx COMP_WORDS (commandline -cp)
    set -lx COMP_CWORD (commandline -ct)
    env _KCTL_COMPLETE=fish kctl 2>/dev/null
end

complete -c kctl -f -a "(__kctl_complete)"
""",
}


def script(shell: str) -> str:
    return _SCRIPTS[shell]


# ---- answering ----------------------------------------------------------------------------------------
def _split(line: str) -> list[str]:
    """The words of a command line as the shell would split them, forgiving an open quote."""
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def request(environ: dict[str, str] | os._Environ[str]) -> tuple[str, list[str], str] | None:
    """(shell, the words before the one being completed, that word) from a script's environment."""
    shell = environ.get(COMPLETE_VAR, "")
    shell = {"complete_bash": "bash"}.get(shell, shell)  # the bash script earlier kctl wrote
    if shell not in SHELLS:
        return None
    words = _split(environ.get("COMP_WORDS", ""))
    if shell == "fish":
        incomplete = environ.get("COMP_CWORD", "")
        args = words[1:]
        if incomplete and args and args[-1] == incomplete:
            args.pop()
        return shell, args, incomplete
    try:
        at = int(environ.get("COMP_CWORD", "0"))
    except ValueError:
        at = len(words)
    return shell, words[1:at], words[at] if at < len(words) else ""


def _is_option(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "option"


def _option_named(params: list[Any], word: str) -> Any:
    for param in params:
        if _is_option(param) and word in (*param.opts, *param.secondary_opts):
            return param
    return None


def _takes_value(option: Any) -> bool:
    return not (option.is_flag or option.count)


def _walk(root: Any, args: list[str]) -> tuple[list[Any], list[str], Any, int, list[str]]:
    """Where the words lead: the commands (root first), their names, the option whose value comes
    next (or None), how many positional arguments the last command has, and the root's options
    as typed (so that -b and --context reach the completions of names)."""
    commands, names = [root], ["kctl"]
    wanting: Any = None
    positional = 0
    root_words: list[str] = []
    end = args.index("--") if "--" in args else len(args)
    for word in args[:end]:
        command = commands[-1]
        if wanting is not None:
            if wanting in root.params:
                root_words.append(word)
            wanting = None
            continue
        if word.startswith("-") and word != "-":
            name = word.split("=", 1)[0]
            option = _option_named(command.params, name) or _option_named(root.params, name)
            if option is not None and option in root.params:
                root_words.append(word)
            if option is not None and _takes_value(option) and "=" not in word:
                wanting = option
            continue
        found = None
        if hasattr(command, "get_command") and positional == 0:
            found = command.get_command(command.make_context(names[-1], [], resilient_parsing=True), word)
        if found is not None:
            commands.append(found)
            names.append(word)
        else:
            positional += 1
    return commands, names, wanting, positional, root_words


def candidates(root: Any, args: list[str], incomplete: str) -> list[tuple[str, str]]:
    """(value, help) pairs for the word being completed."""
    commands, names, wanting, positional, root_words = _walk(root, args)
    command = commands[-1]
    root_ctx = root.make_context("kctl", list(root_words), resilient_parsing=True)
    ctx = root_ctx if command is root else command.make_context(names[-1], [], parent=root_ctx,
                                                               resilient_parsing=True)
    if wanting is not None:
        return [(item.value, item.help or "") for item in wanting.shell_complete(ctx, incomplete)]
    if incomplete.startswith("-"):
        seen: list[tuple[str, str]] = []
        for holder in (command, root) if command is not root else (root,):
            for param in holder.params:
                if _is_option(param) and not param.hidden:
                    seen += [(name, param.help or "") for name in (*param.opts, *param.secondary_opts)]
        return [(name, help_) for name, help_ in dict(seen).items() if name.startswith(incomplete)]
    if hasattr(command, "list_commands") and positional == 0:
        out = []
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden and name.startswith(incomplete):
                out.append((name, sub.get_short_help_str(limit=60)))
        return out
    arguments = [p for p in command.params if getattr(p, "param_type_name", "") == "argument"]
    if not arguments:
        return []
    argument = arguments[min(positional, len(arguments) - 1)]
    if positional >= len(arguments) and argument.nargs != -1:
        return []
    return [(item.value, item.help or "") for item in argument.shell_complete(ctx, incomplete)]


def answer(root: Any, environ: dict[str, str] | os._Environ[str]) -> str:
    """What kctl prints for a completion request (nothing for one it cannot read)."""
    asked = request(environ)
    if asked is None:
        return ""
    shell, args, incomplete = asked
    try:
        found = candidates(root, args, incomplete)
    except Exception:  # a shell completion must never print a traceback
        return ""
    if shell == "zsh":
        lines = [value.replace(":", r"\:") + (f":{help_}" if help_ else "") for value, help_ in found]
    elif shell == "fish":
        lines = [value + (f"\t{help_}" if help_ else "") for value, help_ in found]
    else:
        lines = [value for value, _ in found]
    return "".join(line + "\n" for line in lines)


# ---- names from the cluster ---------------------------------------------------------------------------
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
