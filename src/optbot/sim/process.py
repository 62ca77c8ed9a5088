"""The simulator served from a process of its own (spawned), for measurements of a client's path.

In one process and on one event loop, the simulator's server runs whenever the client's code yields to
the loop (between writing a request's headers and its body, say), so a client's timing would include
the server's work. A real broker's CPU is not the client's: `SimulatorProcess` starts the simulator in
a spawned child that binds port 0 on loopback and reports the port back, and stops it on request (or
when the parent goes away, its end of the pipe closes and the child stops on its own).

`build` is a picklable callable (a module-level function, or a `functools.partial` of one) that
returns the `Simulator` to serve; it runs in the child, on the child's event loop.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from multiprocessing.connection import Connection
from types import TracebackType

from optbot.sim.server import Simulator

#: What the child sends when its server listens (then its port) or when it could not start.
READY = "ready"
FAILED = "failed"
STOP = "stop"


def _serve(build: Callable[[], Simulator], connection: Connection) -> None:
    """The child's body: serve until the parent says stop or goes away."""
    asyncio.run(_serve_until_told(build, connection))


async def _serve_until_told(build: Callable[[], Simulator], connection: Connection) -> None:
    try:
        simulator = build()
        await simulator.start()
    except Exception as exc:  # reported to the parent, which raises it there
        connection.send((FAILED, f"{type(exc).__name__}: {exc}"))
        return
    try:
        connection.send((READY, simulator.port))
        # a blocking read in a thread: the loop keeps serving; EOFError when the parent has gone
        try:
            await asyncio.get_running_loop().run_in_executor(None, connection.recv)
        except EOFError:
            pass
    finally:
        await simulator.stop()
        connection.close()


class SimulatorProcess:
    """`with SimulatorProcess(build) as sim:` serves `build()` at `sim.base_url` until the block ends."""

    def __init__(
        self,
        build: Callable[[], Simulator],
        *,
        host: str = "127.0.0.1",
        start_timeout_seconds: float = 60.0,
        cpus: set[int] | None = None,
    ) -> None:
        """`cpus`: the CPUs the child may run on (Linux), e.g. one the measuring process leaves free,
        so that the server, woken by each request, does not run on the measuring process's CPU."""
        self._build = build
        self._cpus = cpus
        self.host = host
        self._start_timeout = start_timeout_seconds
        self.port = 0
        self._process: multiprocessing.process.BaseProcess | None = None
        self._connection: Connection | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        if self._process is not None:
            raise RuntimeError("simulator process already started")
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no copied loop or sockets
        ours, theirs = context.Pipe()
        process = context.Process(target=_serve, args=(self._build, theirs), name="optbot-sim", daemon=True)
        process.start()
        theirs.close()
        self._process, self._connection = process, ours
        try:
            if not ours.poll(self._start_timeout):
                raise RuntimeError(f"the simulator process did not start within {self._start_timeout:g} s")
            status, detail = ours.recv()
        except (EOFError, RuntimeError):
            self.stop()
            raise
        if status != READY:
            self.stop()
            raise RuntimeError(f"the simulator process could not start: {detail}")
        self.port = int(detail)
        if self._cpus is not None:
            os.sched_setaffinity(process.pid or 0, self._cpus)

    def stop(self, timeout_seconds: float = 10.0) -> None:
        """Ask the child to stop; end it only if it does not within `timeout_seconds`."""
        process, connection = self._process, self._connection
        self._process = self._connection = None
        if connection is not None:
            try:
                connection.send(STOP)
            except (BrokenPipeError, OSError):
                pass  # the child has already gone
            connection.close()
        if process is not None:
            process.join(timeout_seconds)
            if process.is_alive():
                process.terminate()
                process.join(timeout_seconds)

    def __enter__(self) -> SimulatorProcess:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
