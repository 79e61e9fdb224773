"""kctl's interactive console (Textual): the same client and commands as the CLI, live."""
