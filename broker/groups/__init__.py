"""Consumer groups: the classic coordinator and the `__consumer_offsets` topic it keeps its state in."""
