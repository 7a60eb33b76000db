"""A TCP relay a test can cut: a process given the relay's address (e.g. in a kubeconfig)
reaches the real server until `cut`; from then on every byte is dropped and new connections
are held open unanswered, as in a network partition (a refused connection would fail fast,
a partition leaves clients waiting on their timeouts). `refuse` instead drops every connection
at once and closes new ones, as a server that is down; `restore` relays again."""

import socket
import threading


class Relay:
    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.partitioned, self.refusing = threading.Event(), threading.Event()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, name="relay", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return  # closed
            if self.refusing.is_set():
                downstream.close()
                continue
            self._sockets.append(downstream)
            if self.partitioned.is_set():
                continue
            upstream = socket.create_connection(self.target)
            self._sockets.append(upstream)
            for src, dst in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                if not self.partitioned.is_set():
                    dst.sendall(data)
            if not self.partitioned.is_set():
                dst.shutdown(socket.SHUT_WR)  # pass the close on
        except OSError:
            pass

    def cut(self) -> None:
        self.partitioned.set()

    def refuse(self) -> None:
        self.refusing.set()
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()

    def restore(self) -> None:
        self.refusing.clear()
        self.partitioned.clear()

    def close(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.listener.close()
        for sock in self._sockets:
            sock.close()
