"""Operations shared by the command line and the console: the same code answers `kctl groups
reset-offsets` and the console's reset dialog, `kctl topics list` and the topics view.

Only the client is imported here (no click, rich or textual). Failures are `errors.OpsError`s,
which say what kind of failure it is but carry no exit code: the CLI maps the kind to an exit code,
the console shows the message and its hint.
"""
