"""The built-in single-node Kafka-protocol broker."""
