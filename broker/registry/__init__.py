"""A Schema Registry in the built-in broker, compatible with Confluent's REST API.

`store` holds the state and rules without I/O, `topic` the `_schemas` record format it persists
in, and `http` serves it on the broker's event loop.
"""
