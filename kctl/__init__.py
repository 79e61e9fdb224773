"""kctl: a terminal admin console and operations toolkit for Apache Kafka, with a built-in broker."""

__version__ = "0.1.0"
