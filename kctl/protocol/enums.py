"""Kafka's enumerations that travel inside messages, defined once for the client and the broker."""

from __future__ import annotations

import enum


class ConfigResourceType(enum.IntEnum):
    """What a DescribeConfigs / AlterConfigs resource names."""

    UNKNOWN = 0
    TOPIC = 2
    BROKER = 4
    BROKER_LOGGER = 8
    CLIENT_METRICS = 16
    GROUP = 32


class ConfigSource(enum.IntEnum):
    """Where a config's value comes from (DescribeConfigs v1+)."""

    UNKNOWN = 0
    TOPIC = 1
    DYNAMIC_BROKER = 2
    DYNAMIC_DEFAULT_BROKER = 3
    STATIC_BROKER = 4
    DEFAULT = 5
    DYNAMIC_BROKER_LOGGER = 6
    CLIENT_METRICS = 7
    GROUP = 8

    @property
    def label(self) -> str:
        """As kctl prints it: 'static-broker', 'default', ..."""
        return self.name.lower().replace("_", "-")


class ConfigType(enum.IntEnum):
    """A config's value type (DescribeConfigs v3+)."""

    UNKNOWN = 0
    BOOLEAN = 1
    STRING = 2
    INT = 3
    SHORT = 4
    LONG = 5
    DOUBLE = 6
    LIST = 7
    CLASS = 8
    PASSWORD = 9


class AlterConfigOp(enum.IntEnum):
    """IncrementalAlterConfigs operations."""

    SET = 0
    DELETE = 1
    APPEND = 2
    SUBTRACT = 3


class GroupState(enum.StrEnum):
    """A group's state, by the names ListGroups and DescribeGroups report (so a state compares
    equal to its name as a client receives it). Classic groups go through the rebalance states;
    consumer groups (KIP-848) through Assigning and Reconciling."""

    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    ASSIGNING = "Assigning"
    RECONCILING = "Reconciling"
    STABLE = "Stable"
    DEAD = "Dead"

    @classmethod
    def parse(cls, name: str) -> GroupState | None:
        """A state from a ListGroups filter; Kafka matches those without regard to case."""
        wanted = name.strip().lower()
        return next((s for s in cls if s.value.lower() == wanted), None)
