"""Lines of stdin for `kctl produce`, read without holding up the event loop.

A read that blocks the loop holds back what was already read: on a terminal, or behind a slow
pipe (`tail -f app.log | kctl produce`), the records typed or piped so far would wait for the next
line, and Ctrl-C (asyncio cancels the task) would wait for it too. A file is read at once.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import stat
import sys
import threading
from collections.abc import AsyncIterator

from .output import diagnostic

CHUNK = 1 << 16
#: Chunks read ahead of what has been sent: the reader waits when this many are queued.
READ_AHEAD = 16


async def stdin_lines() -> AsyncIterator[str]:
    """Each line of stdin, with its newline. On a terminal it first says what it reads and how to
    stop."""
    fd = sys.stdin.fileno()
    if stat.S_ISREG(os.fstat(fd).st_mode):
        for line in sys.stdin:
            yield line
        return
    if sys.stdin.isatty():
        diagnostic("reading records from the terminal, one per line: Ctrl-D sends them and ends, Ctrl-C stops")
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[list[str] | BaseException | None] = asyncio.Queue(READ_AHEAD)
    threading.Thread(target=_read, args=(fd, loop, chunks), name="stdin", daemon=True).start()
    while True:
        chunk = await chunks.get()
        if chunk is None:
            return
        if isinstance(chunk, BaseException):
            raise chunk
        for line in chunk:
            yield line


def _read(fd: int, loop: asyncio.AbstractEventLoop, chunks: asyncio.Queue[list[str] | BaseException | None]) -> None:
    """The reader thread: whole lines, as many as each read brings, handed to the loop. A daemon:
    when kctl stops (Ctrl-C) it is left blocked in its read."""
    decoder = codecs.getincrementaldecoder(sys.stdin.encoding or "utf-8")(sys.stdin.errors or "strict")

    def hand_over(item: list[str] | BaseException | None) -> bool:
        try:
            asyncio.run_coroutine_threadsafe(chunks.put(item), loop).result()
            return True
        except (RuntimeError, asyncio.CancelledError, ConnectionError):  # the loop has gone: kctl is stopping
            return False

    partial = ""
    try:
        while True:
            data = os.read(fd, CHUNK)
            text = partial + decoder.decode(data, final=not data)
            lines = text.split("\n")
            partial = lines.pop()
            if not data:
                if partial:
                    lines.append(partial)
                if lines:
                    hand_over([line + "\n" for line in lines])
                hand_over(None)
                return
            if lines and not hand_over([line + "\n" for line in lines]):
                return
    except Exception as exc:  # a read or decoding error ends the input, and says why
        hand_over(exc)
