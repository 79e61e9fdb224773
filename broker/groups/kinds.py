"""Every kind of group one coordinator map holds: a group id is of one kind at a time."""

from __future__ import annotations

from .consumer_group import ConsumerGroup
from .group import Group
from .share_group import ShareGroup

AnyGroup = Group | ConsumerGroup | ShareGroup
