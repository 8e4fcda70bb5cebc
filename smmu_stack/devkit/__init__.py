"""What the tests and the benchmarks share: free local ports, real media made on the spot (worker_media) and a
worker pipeline on the emulator (worker_pipeline). Development tooling: nothing deployed imports it."""

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
