"""The feature levels (KIP-584) this broker serves: advertised in ApiVersions, shown by
DescribeQuorum-era tools (`kafka-features describe`), and fixed for the life of the broker."""

from __future__ import annotations

#: name -> (lowest supported, highest supported, finalized). `group.version` 1 is the consumer
#: group protocol (KIP-848); `share.version` 1 is share groups (KIP-932); `transaction.version` 1
#: is transactions with the coordinator's verification of partitions (KIP-890 part 1), not yet
#: part 2's epoch bumps.
FEATURES: dict[str, tuple[int, int, int]] = {
    "group.version": (0, 1, 1),
    "share.version": (0, 1, 1),
    "transaction.version": (0, 1, 1),
}

#: The levels never change on a running broker: one epoch for all of them.
FEATURES_EPOCH = 1


def refusal(feature: str, level: int) -> str | None:
    """Why an UpdateFeatures to `level` cannot be done (None: it is the level already in force)."""
    if feature not in FEATURES:
        return f"the built-in broker does not support the feature {feature}"
    finalized = FEATURES[feature][2]
    if level == finalized:
        return None
    return f"the built-in broker's feature levels are fixed: {feature} stays at {finalized}"
