"""Which cluster a front end talks to and how: contexts from the config file, the built-in broker
started on demand, and the `Cluster` built from a context. Below the CLI and the console, above the
client."""
