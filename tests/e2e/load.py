"""Client load for the failure tests: pushers push new images and pullers pull back ones
already pushed (bit for bit), each operation recorded with its time and outcome."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.transfer import pulls_back, push
from tests.imagegen import ImageLayout, make_image, random_layer


@dataclass
class Operation:
    kind: str
    started: float
    ended: float
    ok: bool
    detail: str
    reference: str = ""


class Clients:
    """Pushers push new images, pullers pull back ones already pushed, until stopped.
    retry: a pusher whose push failed pushes the same image again (a second later) before
    going on, as a client that was told to retry does; a puller likewise pulls again."""

    def __init__(self, host: str, base: Path, project: str = "ha", retry: bool = False) -> None:
        self.host, self.base, self.project, self.retry = host, base, project, retry
        self.operations: list[Operation] = []
        self.pushed: list[tuple[str, ImageLayout]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.counter = 0

    def _record(
        self, kind: str, started: float, ok: bool, detail: str, reference: str = ""
    ) -> None:
        with self.lock:
            operation = Operation(kind, started, time.monotonic(), ok, detail, reference)
            self.operations.append(operation)

    def _repeat(
        self,
        kind: str,
        fresh: Callable[[], tuple[str, ImageLayout] | None],
        attempt: Callable[[str, ImageLayout], tuple[bool, str]],
        succeeded: Callable[[str, ImageLayout], None] = lambda reference, layout: None,
    ) -> None:
        """Until stopped: `attempt` an image from `fresh()` (None: none yet), or, retrying,
        the one whose attempt failed, a second later; record each attempt (ok, detail),
        then tell `succeeded` of each success."""
        failed: tuple[str, ImageLayout] | None = None
        while not self.stopping.is_set():
            if failed is not None:
                reference, layout = failed
                time.sleep(1)
            elif (image := fresh()) is not None:
                reference, layout = image
            else:
                time.sleep(0.2)
                continue
            started = time.monotonic()
            ok, detail = attempt(reference, layout)
            self._record(kind, started, ok, detail, reference)
            failed = (reference, layout) if self.retry and not ok else None
            if ok:
                succeeded(reference, layout)

    def pusher(self, seed: int) -> None:
        rng = random.Random(seed)

        def fresh() -> tuple[str, ImageLayout]:
            with self.lock:
                self.counter += 1
                number = self.counter
            size = rng.choice([4096, 256 * 1024])
            layout = make_image(self.base / f"push{number}", layers=[random_layer(size)])
            return f"{self.project}/app{seed}:v{number}", layout

        def attempt(reference: str, layout: ImageLayout) -> tuple[bool, str]:
            result = push(self.host, layout, reference, timeout=120)
            return result.returncode == 0, result.stderr[-300:]

        def pushed(reference: str, layout: ImageLayout) -> None:
            with self.lock:
                self.pushed.append((reference, layout))

        self._repeat("push", fresh, attempt, pushed)

    def puller(self, seed: int) -> None:
        rng = random.Random(seed)
        pulls = 0

        def fresh() -> tuple[str, ImageLayout] | None:
            with self.lock:
                candidates = list(self.pushed)
            return rng.choice(candidates) if candidates else None

        def attempt(reference: str, layout: ImageLayout) -> tuple[bool, str]:
            nonlocal pulls
            pulls += 1
            problem = self.pull_back(reference, layout, self.base / f"pull{seed}-{pulls}")
            return problem is None, problem or ""

        self._repeat("pull", fresh, attempt)

    def pull_back(self, reference: str, layout: ImageLayout, target: Path) -> str | None:
        """Pull an image into an OCI layout; None if it came back bit for bit, else why not."""
        return pulls_back(self.host, reference, layout.path, target, timeout=120)

    def verify_all(
        self, base: Path, extra: tuple[tuple[str, ImageLayout], ...] | list = ()
    ) -> list[str]:
        """Pull back every image whose push succeeded (and `extra`); the ones that do not
        come back bit for bit."""
        lost = []
        for number, (reference, layout) in enumerate([*self.pushed, *extra]):
            target = base / str(number)
            target.parent.mkdir(parents=True, exist_ok=True)
            if problem := self.pull_back(reference, layout, target):
                lost.append(f"{reference}: {problem[-200:]}")
        return lost

    def first_push_acknowledged(self, started_after: float, timeout: float) -> float | None:
        """When the first push started after `started_after` (a time.monotonic()) was
        acknowledged: the platform writes again. None if none was within `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                acknowledged = [
                    op.ended
                    for op in self.operations
                    if op.ok and op.kind == "push" and op.started > started_after
                ]
            if acknowledged:
                return min(acknowledged)
            time.sleep(0.2)
        return None

    @contextlib.contextmanager
    def running(self, pushers: int = 1, pullers: int = 1) -> Iterator[Clients]:
        """The pushers and pullers run in threads until the block ends, however it ends."""
        threads = [threading.Thread(target=self.pusher, args=(i,)) for i in range(pushers)]
        threads += [threading.Thread(target=self.puller, args=(100 + i,)) for i in range(pullers)]
        for thread in threads:
            thread.start()
        try:
            yield self
        finally:
            self.stopping.set()
            for thread in threads:
                thread.join(timeout=200)
