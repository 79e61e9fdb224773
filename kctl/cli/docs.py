"""Man pages, shell completion scripts and the precomputed `kctl --help`, generated from the CLI
definitions. The wheel installs the man pages and completions under share/ (see pyproject.toml).

    python -m kctl.cli.docs            # write man/*.1, kctl/cli/completions/* and kctl/cli/help.txt
    python -m kctl.cli.docs --check    # fail if they are stale (CI and a test run this)

`kctl --help` prints help.txt without importing click, so it answers at interpreter speed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MAN_DIR = ROOT / "man"
HELP_FILE = Path(__file__).with_name("help.txt")
COMPLETIONS_DIR = Path(__file__).with_name("completions")
#: Each shell's completion file, named as the shell looks for it (bash-completion, zsh's fpath, fish).
COMPLETION_FILES = {"bash": "kctl", "zsh": "_kctl", "fish": "kctl.fish"}
WIDTH = 100


def _command_tree() -> Any:
    from .app import root_command

    root = root_command()
    root.load_all()
    return root


def _is_group(command: Any) -> bool:
    return isinstance(getattr(command, "commands", None), dict)


def _is_option(param: Any) -> bool:
    return getattr(param, "param_type_name", "") == "option"


def _walk(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    yield path, command
    if _is_group(command):
        for name in sorted(command.commands):
            sub = command.commands[name]
            if not sub.hidden:
                yield from _walk(sub, [*path, name])


def _plain_help(root: Any) -> str:
    """Click's own help text for the top level, without colour or boxes, at a fixed width."""
    ctx = root.context_class(root, info_name="kctl", terminal_width=WIDTH, max_content_width=WIDTH, color=False)
    formatter = ctx.make_formatter()
    root.format_help(ctx, formatter)
    return str(formatter.getvalue())


def _roff(text: str) -> str:
    out = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line) if line.startswith((".", "'")) else line for line in out.splitlines())


def man_page(path: list[str], command: Any) -> str:
    from kctl import __version__

    from .errors import EXIT_CODES

    name = "-".join(["kctl", *path])
    title = name.upper()
    summary = (command.short_help or (command.help or "").strip().splitlines()[0] if command.help else "")
    lines = [
        f'.TH {title} 1 "" "kctl {__version__}" "kctl manual"',
        ".SH NAME",
        f"{_roff(name)} \\- {_roff(summary.rstrip('.'))}",
        ".SH SYNOPSIS",
        f".B {_roff(' '.join(['kctl', *path]))}",
        _roff(" ".join(("[OPTIONS]" if any(_is_option(p) for p in command.params) else "",
                        *((p.name or "").upper() + ("..." if p.nargs == -1 else "")
                          for p in command.params if not _is_option(p)),
                        "COMMAND [ARGS]..." if _is_group(command) else "")).strip()),
        ".SH DESCRIPTION",
        _roff((command.help or summary or "").strip()),
    ]
    options = [p for p in command.params if _is_option(p) and not p.hidden]
    if options:
        lines.append(".SH OPTIONS")
        for option in options:
            names = ", ".join(option.opts + option.secondary_opts)
            value = f" \\fI{_roff(option.metavar)}\\fR" if option.metavar else ""
            lines += [".TP", f".B {_roff(names)}{value}", _roff(option.help or "")]
    arguments = [p for p in command.params if not _is_option(p)]
    if arguments:
        lines.append(".SH ARGUMENTS")
        for argument in arguments:
            help_text = getattr(argument, "help", None) or ""
            lines += [".TP", f".B {_roff((argument.name or '').upper())}", _roff(help_text)]
    if _is_group(command):
        lines.append(".SH COMMANDS")
        for sub_name in sorted(command.commands):
            sub = command.commands[sub_name]
            if sub.hidden:
                continue
            lines += [".TP", f".B {_roff(sub_name)}", _roff(sub.get_short_help_str(80)),
                      f"See \\fB{_roff('-'.join(['kctl', *path, sub_name]))}\\fR(1)."]
    if not path:
        lines += [".SH CHANGING STATE",
                  _roff("These commands change the cluster or kctl's config and all take --yes (-y), so a runbook "
                        "can pass it to each of them; the deletes ask for the name to be typed without it:"),
                  *(f".br\n{_roff(' '.join(['kctl', *p]))}" for p in _yes_commands(command))]
        lines.append(".SH EXIT STATUS")
        for code, meaning in EXIT_CODES.items():
            lines += [".TP", f".B {code}", _roff(meaning)]
        lines += [".SH ENVIRONMENT", ".TP", ".B KCTL_BOOTSTRAP_SERVERS", "Cluster to use, as for \\-b.",
                  ".TP", ".B KCTL_CONTEXT", "Context to use, as for \\-\\-context.", ".TP", ".B KCTL_CONFIG",
                  "Config file (default $XDG_CONFIG_HOME/kctl/config.toml).", ".TP", ".B NO_COLOR",
                  "No colour in any output."]
    lines += [".SH SEE ALSO", "\\fBkctl\\fR(1)" if path else "\\fBkctl\\-topics\\fR(1), \\fBkctl\\-groups\\fR(1)"]
    return "\n".join(lines) + "\n"


def _yes_commands(root: Any) -> list[list[str]]:
    return [p for p, c in _walk(root, []) if any("--yes" in getattr(o, "opts", ()) for o in c.params)]


COMMAND_INDEX = Path(__file__).with_name("commands.json")


def command_index() -> str:
    """Every cmd_ module's COMMANDS as name -> [module, attribute, help override], for app.py."""
    import importlib
    import json

    index: dict[str, list[str | None]] = {}
    for path in sorted(Path(__file__).parent.glob("cmd_*.py")):
        module = importlib.import_module(f"{__package__}.{path.stem}")
        for name, value in module.COMMANDS.items():
            target, help_text = value if isinstance(value, tuple) else (value, None)
            attribute = next(a for a, v in vars(module).items() if v is target and a != "COMMANDS")
            if name in index:
                raise ValueError(f"two modules give the command {name!r}")
            index[name] = [path.stem, attribute, help_text]
    return json.dumps(dict(sorted(index.items())), indent=1) + "\n"


def render() -> dict[Path, str]:
    import json

    from .app import LAZY_COMMANDS

    index = command_index()
    LAZY_COMMANDS.clear()  # the tree below is built from the modules as they are now
    LAZY_COMMANDS.update({name: (m, a, h) for name, (m, a, h) in json.loads(index).items()})
    files: dict[Path, str] = {COMMAND_INDEX: index}
    root = _command_tree()
    for path, command in _walk(root, []):
        files[MAN_DIR / f"{'-'.join(['kctl', *path])}.1"] = man_page(path, command)
    files[HELP_FILE] = _plain_help(root)
    from .completion import script

    for shell, name in COMPLETION_FILES.items():
        files[COMPLETIONS_DIR / name] = script(shell)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kctl.cli.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the generated files are stale")
    args = parser.parse_args(argv)
    files = render()
    stale = [p for p, text in files.items() if not p.exists() or p.read_text() != text]
    extra = [p for p in MAN_DIR.glob("*.1") if p not in files] if MAN_DIR.exists() else []
    if args.check:
        for p in stale + extra:
            print(f"stale: {p.relative_to(ROOT)} (run python -m kctl.cli.docs)", file=sys.stderr)
        return 1 if stale or extra else 0
    MAN_DIR.mkdir(exist_ok=True)
    COMPLETIONS_DIR.mkdir(exist_ok=True)
    for p in stale:
        p.write_text(files[p])
    for p in extra:
        p.unlink()
    print(f"wrote {len(stale)} file(s), removed {len(extra)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
