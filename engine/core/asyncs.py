"""`async def` user code, run to completion from the engine's synchronous loops.

Upstream's strategies, exchanges, validations, callbacks and listeners are async
functions; their natural Python port is `async def`. The engine calls user code
synchronously, so each coroutine function is wrapped once, when it is registered
(`syncify`), into a plain function that runs the coroutine to its end and returns its
value or raises its exception: an async validation that raises rejects, an async
listener's body has run when the emit returns. Sync functions are returned as they are,
so they pay nothing.

Where the coroutine runs: on an event loop this thread keeps for the purpose, or, when the
calling thread is itself running an event loop (a Jupyter cell, an async application),
on a helper thread's loop, because a running loop cannot be re-entered.

asyncio loads on the first coroutine run, so a process of sync code never imports it.
"""

from __future__ import annotations

import functools
import inspect
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")
_local = threading.local()
_helper: list[asyncio.AbstractEventLoop] = []
_helper_lock = threading.Lock()


def is_async(fn: Any) -> bool:
    """Tell whether calling `fn` returns a coroutine (async functions, partials, objects)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if inspect.iscoroutinefunction(fn):
        return True
    if inspect.isfunction(fn) or inspect.ismethod(fn) or not callable(fn):
        return False
    return inspect.iscoroutinefunction(type(fn).__call__)  # an object with async __call__


def _thread_loop() -> asyncio.AbstractEventLoop:
    import asyncio

    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _local.loop = loop
        # A thread that ends (the live watchdog runs each tick on its own) closes its loop.
        weakref.finalize(threading.current_thread(), loop.close)
    return loop


def _helper_loop() -> asyncio.AbstractEventLoop:
    import asyncio

    with _helper_lock:
        if not _helper:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="engine-async", daemon=True).start()
            _helper.append(loop)
        return _helper[0]


def wait(awaitable: Awaitable[T]) -> T:
    """Run `awaitable` to completion from synchronous code; return its value or raise."""
    import asyncio

    coroutine: Coroutine[Any, Any, T] = _as_coroutine(awaitable)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _thread_loop().run_until_complete(coroutine)
    return asyncio.run_coroutine_threadsafe(coroutine, _helper_loop()).result()


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _as_coroutine(awaitable: Awaitable[T]) -> Coroutine[Any, Any, T]:
    if inspect.iscoroutine(awaitable):
        return awaitable
    return _await(awaitable)


def syncify(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Return `fn` if it is synchronous, else a function that runs it to completion."""
    if not is_async(fn):
        return fn

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        return wait(fn(*args, **kwargs))

    run.__engine_async__ = fn  # type: ignore[attr-defined]  # what the user registered
    return run
