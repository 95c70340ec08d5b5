"""Wires the delivery worker and the built-in local relay together, for the GUI and the command line."""

from __future__ import annotations

from pathlib import Path

from mailgui.errors import Error


def run_worker(db: Path, *, until_idle: bool = False) -> int:
    raise Error("worker: delivery is not built yet (issue 3)")


def run_local_relay(db: Path, *, port: int) -> int:
    """``mailgui local-relay``: serve the built-in relay on 127.0.0.1 until Ctrl+C or SIGTERM."""
    import asyncio
    import contextlib
    import signal

    from mailgui.relay import LocalRelay

    async def serve() -> None:
        relay = LocalRelay(db, port=port)
        bound = await relay.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # Windows: Ctrl+C still ends asyncio.run
                loop.add_signal_handler(signum, stop.set)
        print(f"mailgui local relay listening on {relay.host}:{bound} (mailbox in {db}); Ctrl+C stops it", flush=True)
        try:
            await stop.wait()
        finally:
            await relay.stop()
        print("mailgui local relay stopped", flush=True)

    asyncio.run(serve())
    return 0
