"""The notebook client every command and test of the course runs notebooks with.

    CourseNotebookClient   nbclient's NotebookClient, whose kernel channels wait in slices
    sliced_get_msg         a channel's get_msg that looks again every SLICE_S seconds

Why. After a cell that displays a widget, a waiting zmq poll sometimes misses the message that
has arrived (nbclient issue #312): nbclient then waits for the execute reply until the cell's
whole timeout (600 s) runs out, finds the reply, and goes on as if nothing happened. Lectures
03 and 05 (widget cells) have each been seen to take 600 s longer than their cells did. A wait
cut into one-second slices checks the socket again at the end of each slice, so a missed wake-up
costs at most a second, and a real timeout still ends when it should.
"""
import functools
from queue import Empty
from time import monotonic

from nbclient import NotebookClient

SLICE_S = 1.0


def sliced_get_msg(get_msg, slice_s=SLICE_S):
    """Wrap an async ``get_msg(timeout=None)``: the same result, waiting at most slice_s per poll.

    timeout None waits until a message comes; a number raises queue.Empty once it has passed.
    """
    @functools.wraps(get_msg)
    async def get_msg_in_slices(timeout=None):
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            left = slice_s if deadline is None else max(0.0, min(slice_s, deadline - monotonic()))
            try:
                return await get_msg(timeout=left)
            except Empty:
                if deadline is not None and monotonic() >= deadline:
                    raise
    return get_msg_in_slices


class CourseNotebookClient(NotebookClient):
    """A NotebookClient whose shell and iopub channels wait in slices (see the module's text)."""

    async def async_start_new_kernel_client(self):
        client = await super().async_start_new_kernel_client()
        for channel in (client.shell_channel, client.iopub_channel):
            channel.get_msg = sliced_get_msg(channel.get_msg)
        return client
