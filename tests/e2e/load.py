"""Client load for the failure tests: pushers push new images and pullers pull back ones
already pushed (bit for bit), each operation recorded with its time and outcome."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator
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
    going on, as a client that was told to retry does."""

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

    def pusher(self, seed: int) -> None:
        rng = random.Random(seed)
        failed: tuple[str, ImageLayout] | None = None
        while not self.stopping.is_set():
            if failed is not None:
                reference, layout = failed
                time.sleep(1)
            else:
                with self.lock:
                    self.counter += 1
                    number = self.counter
                size = rng.choice([4096, 256 * 1024])
                layout = make_image(self.base / f"push{number}", layers=[random_layer(size)])
                reference = f"{self.project}/app{seed}:v{number}"
            started = time.monotonic()
            result = push(self.host, layout, reference, timeout=120)
            ok = result.returncode == 0
            self._record("push", started, ok, result.stderr[-300:], reference)
            failed = (reference, layout) if self.retry and not ok else None
            if ok:
                with self.lock:
                    self.pushed.append((reference, layout))

    def puller(self, seed: int) -> None:
        rng = random.Random(seed)
        pulls = 0
        while not self.stopping.is_set():
            with self.lock:
                candidates = list(self.pushed)
            if not candidates:
                time.sleep(0.2)
                continue
            reference, layout = rng.choice(candidates)
            pulls += 1
            target = self.base / f"pull{seed}-{pulls}"
            started = time.monotonic()
            problem = self.pull_back(reference, layout, target)
            self._record("pull", started, problem is None, problem or "")

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
