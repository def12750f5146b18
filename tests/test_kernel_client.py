"""The course's notebook client waits for kernel messages in slices, so a missed wake-up of a
zmq poll costs a second, not a cell's whole timeout (utils.tools.kernel_client)."""
import asyncio
from queue import Empty
from time import monotonic

import pytest

from utils.tools.kernel_client import sliced_get_msg


class MissedWakeUp:
    """A channel whose message is there from the start, but whose poll only sees it when the
    poll's timeout ends (what a missed wake-up looks like); records each timeout asked for."""

    def __init__(self, polls_before_seen):
        self.left, self.timeouts = polls_before_seen, []

    async def get_msg(self, timeout=None):
        self.timeouts.append(timeout)
        if timeout is None:
            raise AssertionError("an unbounded poll would wait forever here")
        await asyncio.sleep(min(timeout, 0.01))
        if self.left == 0:
            return {"msg_id": "reply"}
        self.left -= 1
        raise Empty


def test_a_missed_wake_up_is_found_at_the_end_of_a_slice():
    channel = MissedWakeUp(polls_before_seen=2)
    get_msg = sliced_get_msg(channel.get_msg, slice_s=0.05)
    assert asyncio.run(get_msg(timeout=600)) == {"msg_id": "reply"}
    assert len(channel.timeouts) == 3 and max(channel.timeouts) <= 0.05


def test_waiting_without_a_timeout_polls_in_slices_too():
    channel = MissedWakeUp(polls_before_seen=3)
    assert asyncio.run(sliced_get_msg(channel.get_msg, slice_s=0.05)(timeout=None)) == {"msg_id": "reply"}
    assert channel.timeouts == [0.05] * 4


def test_a_real_timeout_still_ends_on_time():
    channel = MissedWakeUp(polls_before_seen=10**6)
    start = monotonic()
    with pytest.raises(Empty):
        asyncio.run(sliced_get_msg(channel.get_msg, slice_s=0.05)(timeout=0.2))
    assert 0.15 <= monotonic() - start < 1.0
