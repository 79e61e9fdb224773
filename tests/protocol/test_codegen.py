"""The committed message modules are exactly what the generator makes from our definitions."""

from __future__ import annotations

from kctl.protocol import codegen


def test_generated_modules_are_fresh() -> None:
    assert codegen.main(["--check"]) == 0, "run: python -m kctl.protocol.codegen"


def test_versions_sharing_a_layout_share_code() -> None:
    from kctl.protocol.messages import heartbeat

    # Heartbeat v0-v2 differ only in throttle time on the response side, so requests v0-v2 share one encoder.
    assert heartbeat.REQUEST_ENCODERS[0] is heartbeat.REQUEST_ENCODERS[2]
    assert heartbeat.REQUEST_ENCODERS[3] is not heartbeat.REQUEST_ENCODERS[4]  # v4 is flexible
