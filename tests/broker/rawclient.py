"""A minimal blocking client over our sans-IO ClientConnection, for poking the broker directly."""

from __future__ import annotations

import socket
from typing import Any

from kctl.protocol.events import NEED_DATA, ResponseReceived
from kctl.protocol.framing import ClientConnection


class RawClient:
    def __init__(self, bootstrap: str, timeout: float = 10) -> None:
        host, port = bootstrap.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.conn = ClientConnection(client_id="raw-test")

    def send(self, body: object, version: int, *, expect_response: bool = True) -> int:
        cid, data = self.conn.send_request(body, version, expect_response=expect_response)
        self.sock.sendall(data)
        return cid

    def receive(self) -> ResponseReceived:
        while True:
            event = self.conn.next_event()
            if event is not NEED_DATA:
                assert isinstance(event, ResponseReceived)
                return event
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError("broker closed the connection")
            self.conn.receive_data(data)

    def call(self, body: object, version: int) -> Any:
        self.send(body, version)
        return self.receive().body

    def is_closed_by_peer(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()
