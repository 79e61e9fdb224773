"""Share sessions (KIP-932): what each share consumer fetches from, carried between requests.

A ShareFetch with epoch 0 opens a session with the partitions it names (replacing the member's
old one); later requests carry the next epoch and name only partitions to add, with forgotten
ones to drop; epoch -1 acknowledges one last time and closes it. ShareAcknowledge moves the epoch
on too but cannot open a session. Sans-IO: no time, no sockets.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from uuid import UUID

from kctl.protocol.errors import ErrorCode

FINAL_EPOCH = -1
MAX_EPOCH = 2**31 - 1

SharePartitionKey = tuple[UUID, int]


@dataclass(slots=True)
class ShareSession:
    group_id: str
    member_id: str
    epoch: int  # the epoch the next request must carry
    partitions: set[SharePartitionKey] = field(default_factory=set)


class SessionError(Exception):
    def __init__(self, error: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = error.code
        self.message = message


class ShareSessions:
    def __init__(self, max_sessions: int = 2000) -> None:
        self.max_sessions = max_sessions
        self.sessions: dict[tuple[str, str], ShareSession] = {}

    def fetch(self, group_id: str, member_id: str, epoch: int, added: Iterable[SharePartitionKey],
              forgotten: Iterable[SharePartitionKey]) -> tuple[ShareSession, ShareSession | None]:
        """The session a ShareFetch reads from, and the one it replaced (its records go back)."""
        key = (group_id, member_id)
        if epoch == 0:
            replaced = self.sessions.pop(key, None)
            if replaced is None and len(self.sessions) >= self.max_sessions:
                raise SessionError(ErrorCode.SHARE_SESSION_LIMIT_REACHED,
                                   f"the broker holds its limit of {self.max_sessions} share sessions")
            session = self.sessions[key] = ShareSession(group_id, member_id, 1, set(added))
            return session, replaced
        session = self._advance(key, epoch)
        session.partitions |= set(added)
        session.partitions -= set(forgotten)
        return session, None

    def acknowledge(self, group_id: str, member_id: str, epoch: int) -> ShareSession:
        if epoch == 0:
            raise SessionError(ErrorCode.INVALID_SHARE_SESSION_EPOCH,
                               "ShareAcknowledge cannot open a share session (epoch 0)")
        return self._advance((group_id, member_id), epoch)

    def _advance(self, key: tuple[str, str], epoch: int) -> ShareSession:
        session = self.sessions.get(key)
        if session is None:
            raise SessionError(ErrorCode.SHARE_SESSION_NOT_FOUND,
                               f"member {key[1]} of group {key[0]} has no share session")
        if epoch == FINAL_EPOCH:
            del self.sessions[key]
            return session
        if epoch != session.epoch:
            raise SessionError(ErrorCode.INVALID_SHARE_SESSION_EPOCH,
                               f"share session epoch {epoch} is not the expected {session.epoch}")
        session.epoch = 1 if session.epoch == MAX_EPOCH else session.epoch + 1
        return session

    def close_member(self, group_id: str, member_id: str) -> ShareSession | None:
        return self.sessions.pop((group_id, member_id), None)

    def close_group(self, group_id: str) -> list[ShareSession]:
        gone = [k for k in self.sessions if k[0] == group_id]
        return [self.sessions.pop(k) for k in gone]
