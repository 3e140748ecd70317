"""What a deploy deliberately left alone and the user must hear about.

A deploy never destroys what the description stopped mentioning (an OSD whose disk left the
description keeps running with its data). It says so instead: ``notice(text)`` during a run
records one sentence for the current host, and the runner returns it in that host's result
(``HostResult.notices``), in dry runs as in applies, so previews and refreshes tell it too.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from pyinfra.api.state import State
from pyinfra.context import ctx_state, host

_NOTICES: WeakKeyDictionary[State, dict[str, list[str]]] = WeakKeyDictionary()


def notice(text: str) -> None:
    """Report ``text`` for the current host of the current run (once, however often said)."""
    run: State = ctx_state.get()  # type: ignore[no-untyped-call]
    said = _NOTICES.setdefault(run, {}).setdefault(host.name, [])
    if text not in said:
        said.append(text)


def of(run: State, name: str) -> tuple[str, ...]:
    """What was reported for host ``name`` in ``run``."""
    return tuple(_NOTICES.get(run, {}).get(name, ()))
