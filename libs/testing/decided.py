"""For given / when / then tests of pure aggregates whose ``decide`` answers the events to append or the
refusal as a ``CommandError`` value: one of the two, asserted."""

from __future__ import annotations

from collections.abc import Sequence

from proto.base import CommandError, Event


def refusal(result: Sequence[Event] | CommandError) -> CommandError:
    """The refusal a decision answered (the test fails when it answered events)."""
    assert isinstance(result, CommandError), result
    return result


def events(result: Sequence[Event] | CommandError) -> list[Event]:
    """The events a decision answered (the test fails when it refused)."""
    assert not isinstance(result, CommandError), result
    return list(result)
