"""A counting TCP proxy on loopback: every byte between the sync client and the rsync daemon,
both directions, every connection (CURRENT, delta/manifest and object batches alike) —
what "bytes on the wire" means in the sync benchmark, independent of what rsync's --stats
chooses to count (it leaves out the daemon greeting and authentication)."""

from __future__ import annotations

import socket
import threading

__all__ = ["CountingProxy"]


class CountingProxy:
    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.lock = threading.Lock()
        self.up = self.down = self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> None:
        with self.lock:
            self.up = self.down = self.connections = 0

    @property
    def total(self) -> int:
        return self.up + self.down

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._pump, args=(client, upstream, "up"), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, "down"), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, direction: str) -> None:
        try:
            while chunk := source.recv(262144):
                sink.sendall(chunk)
                with self.lock:
                    setattr(self, direction, getattr(self, direction) + len(chunk))
        except OSError:
            pass
        finally:
            try:
                sink.shutdown(socket.SHUT_WR)     # pass the half-close on; the other pump ends its side
            except OSError:
                pass

    def close(self) -> None:
        self.server.close()
