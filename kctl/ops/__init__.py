"""Operations shared by the command line and the console: the same code answers `kctl groups
reset-offsets` and the console's reset dialog, `kctl topics list` and the topics view.

Only the client is imported here (no typer, rich or textual); failures are `CliError`s, which both
faces know how to show.
"""
