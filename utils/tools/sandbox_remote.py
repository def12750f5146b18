"""The grader's end of a sandbox's channel: the student's functions, called as if they were local.

``Remote(box)`` talks over the pipes of a running ``Sandbox`` (utils.tools.sandbox) to the
``utils.tools.sandbox_runner`` inside it. ``load`` executes the student's cells there;
``function(name)`` is a callable that sends its arguments as plain data, runs the student's
function in the sandbox and returns its result as plain data, with what the function changed
written back (an array edited in place, a numpy Generator advanced, a model's weights updated)
and, for tensors that need gradients, a backward that asks the sandbox for the student's
vector-Jacobian product. What the student's code raises comes back as a ``StudentRaised`` of
the same name; a sandbox that stops answering raises ``SandboxDied``.
"""
import json
import os
import select
import struct
import subprocess

import numpy as np

from utils.tools import sandbox_runner as runner
from utils.tools.sandbox import SandboxDied


class _Channel:
    """Reads whole messages from the sandbox with the wall-clock limit as a deadline."""

    def __init__(self, box):
        self.box = box
        self.fd = box.stdout.fileno()

    def _read(self, n):
        chunks, got = [], 0
        while got < n:
            left = self.box.remaining()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise SandboxDied(self.box.why_stopped())
            chunk = os.read(self.fd, min(n - got, 1 << 20))
            if not chunk:
                try:
                    self.box.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
                raise SandboxDied(self.box.why_stopped())
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def read(self):
        size = struct.unpack("<Q", self._read(8))[0]
        if size > runner.MAX_MESSAGE:
            raise SandboxDied(f"the sandbox sent a message of {size} bytes")
        try:
            message = json.loads(self._read(size))
        except (ValueError, RecursionError):
            raise SandboxDied("the sandbox sent something that is not a message") from None
        if not isinstance(message, dict):
            raise SandboxDied("the sandbox sent something that is not a message")
        return message

    def write(self, message):
        try:
            runner.write_message(self.box.stdin, message)
        except (BrokenPipeError, OSError):
            raise SandboxDied(self.box.why_stopped()) from None


class StudentRaised(Exception):
    """The student's function raised inside the sandbox; the message is its own."""


class Remote:
    """Calls into the student's code in a sandbox, as if its functions were local.

    ``function(name)`` is a callable that sends its arguments, runs the student's function in
    the sandbox and returns its result, with a numpy array passed in changed in place as the
    student's function changed it (so a check sees in-place edits), a numpy Generator advanced,
    a model's weights updated. ``encoders`` maps a type to a function giving its
    ``__build__`` recipe (see utils.tools.sandbox_runner.BUILDERS).
    """

    def __init__(self, box, encoders=None):
        self.channel, self.encoders = _Channel(box), dict(encoders or {})
        self.calls = 0

    def load(self, cells):
        """Execute ``[(label, source)]`` in the sandbox. Returns ({label: error}, defined names)."""
        self.channel.write({"op": "load", "cells": [list(c) for c in cells]})
        reply = self.channel.read()
        if reply.get("op") != "loaded":
            raise SandboxDied("the sandbox did not confirm the cells")
        return dict(reply.get("errors", {})), list(reply.get("defined", []))

    def function(self, name):
        def student(*args, **kwargs):
            return self.call(name, args, kwargs)
        student.__name__ = student.__qualname__ = name
        return student

    # encoding what the grader sends
    def _encode(self, value, state):
        def other(v):
            if isinstance(v, np.random.Generator):
                state["rngs"].append(v)
                return {"__rng__": {"bit_generator": type(v.bit_generator).__name__,
                                    "state": v.bit_generator.state}}
            if type(v).__module__ == "torch" and type(v).__name__ in ("Tensor", "Parameter"):
                state["tensors"].append(v)
                return {"__tensor__": {"data": runner.encode_array(v.detach().cpu().numpy()),
                                       "requires_grad": bool(v.requires_grad)}}
            if isinstance(v, Held):
                return {"__held__": v.key}
            for kind, encoder in self.encoders.items():
                if isinstance(v, kind):
                    key = id(v)
                    state["built"][key] = v
                    return {"__build__": dict(encoder(v, state), id=key)}
            if callable(v):
                state["callbacks"].append(v)
                return {"__callback__": len(state["callbacks"]) - 1}
            raise TypeError(f"cannot send a {type(v).__name__} to the sandbox")
        return runner.encode(value, other)

    def _decode(self, value, leaves=None):
        def other(tag, spec):
            if tag == "__held__":
                return Held(spec)
            if tag == "__tensor__":
                import torch  # only the torch exercises return tensors
                t = torch.from_numpy(runner.decode_array(spec["data"]["__nd__"]))
                if leaves is not None and spec.get("leaf") is not None:
                    leaves.append((spec["leaf"], t))
                return t
            raise runner.ProtocolError(f"unexpected {tag} from the sandbox")
        try:
            return runner.decode(value, other)
        except (runner.ProtocolError, ValueError, TypeError, KeyError, RecursionError) as exc:
            raise StudentRaised(f"returned something that cannot be read ({exc})") from None

    def call(self, name, args, kwargs):
        state = {"rngs": [], "tensors": [], "callbacks": [], "built": {}}
        message = {"op": "call", "fn": name, "id": self.calls,
                   "args": self._encode(list(args), state), "kwargs": self._encode(kwargs, state)}
        call_id = self.calls
        self.calls += 1
        self.channel.write(message)
        while True:
            reply = self.channel.read()
            op = reply.get("op")
            if op == "callback":
                self._answer_callback(reply, state)
                continue
            break
        if op == "raised":
            kind = str(reply.get("type", "Exception"))
            if kind == "NotImplementedError":
                raise NotImplementedError(reply.get("message", ""))
            text = str(reply.get("message", ""))
            raise _exception_type(kind)(text.split(": ", 1)[1] if ": " in text else text)
        if op != "result":
            raise SandboxDied("the sandbox answered a call with something else")
        leaves = []
        value = self._decode(reply.get("value"), leaves)
        self._write_back(args, self._decode(reply.get("args_after")))
        self._write_back(kwargs, self._decode(reply.get("kwargs_after")))
        for rng, after in zip(state["rngs"], reply.get("rngs_after", [])):
            try:
                rng.bit_generator.state = after
            except (TypeError, ValueError, KeyError):
                pass
        for key, weights in (reply.get("built_after") or {}).items():
            model = state["built"].get(int(key)) if key.lstrip("-").isdigit() else None
            if model is not None:
                import torch  # only models come back with weights
                with torch.no_grad():
                    for pname, p in model.state_dict().items():
                        if pname in weights:
                            new = runner.decode_array(weights[pname]["__nd__"])
                            if new.shape == tuple(p.shape):
                                p.copy_(torch.from_numpy(new))
        grad_inputs = [t for t in state["tensors"] if t.requires_grad]
        if grad_inputs and leaves:
            value = self._attach(call_id, grad_inputs, value, leaves)
        return value

    def _answer_callback(self, reply, state):
        try:
            fn = state["callbacks"][int(reply["callback"])]
            value = fn(*self._decode(reply.get("args", [])), **self._decode(reply.get("kwargs", {})))
            answer = {"op": "return", "value": self._encode(value, {"rngs": [], "tensors": [],
                                                                    "callbacks": [], "built": {}})}
        except Exception as exc:  # the grader's function refused the student's arguments
            answer = {"op": "raise", "message": f"{type(exc).__name__}: {exc}"}
        self.channel.write(answer)

    def _write_back(self, sent, after):
        """Copy what the student's function did to the arrays it was given into the originals."""
        if isinstance(sent, np.ndarray) and isinstance(after, np.ndarray):
            if sent.flags.writeable and sent.shape == after.shape:
                np.copyto(sent, after, casting="unsafe")
        elif isinstance(sent, (list, tuple)) and isinstance(after, (list, tuple)) and len(sent) == len(after):
            for s, a in zip(sent, after):
                self._write_back(s, a)
        elif isinstance(sent, dict) and isinstance(after, dict):
            for k in sent:
                if k in after:
                    self._write_back(sent[k], after[k])

    def _attach(self, call_id, inputs, value, leaves):
        """Tensors that autograd can differentiate: their backward asks the sandbox for the
        vector-Jacobian product of the student's function."""
        import torch  # only the torch exercises differentiate through the student's code
        channel, decode_array, encode_array = self.channel, runner.decode_array, runner.encode_array
        order = [index for index, _ in leaves]

        class StudentFunction(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *xs):
                return tuple(t.clone() for _, t in leaves)

            @staticmethod
            def backward(ctx, *grads):
                channel.write({"op": "vjp", "id": call_id, "grads": [
                    None if g is None else encode_array(g.detach().numpy())
                    for _, g in sorted(zip(order, grads), key=lambda pair: pair[0])]})
                reply = channel.read()
                found = reply.get("value", []) if reply.get("op") == "grads" else []
                out = []
                for k, x in enumerate(inputs):
                    g = found[k] if k < len(found) else None
                    g = None if g is None else torch.from_numpy(decode_array(g["__nd__"]))
                    out.append(g if g is None or g.shape == x.shape else None)
                return tuple(out)

        outputs = StudentFunction.apply(*inputs)
        swap = {id(t): o for (_, t), o in zip(leaves, outputs)}
        return _replace(value, swap)


def _replace(value, swap):
    if id(value) in swap:
        return swap[id(value)]
    if isinstance(value, tuple):
        return tuple(_replace(v, swap) for v in value)
    if isinstance(value, list):
        return [_replace(v, swap) for v in value]
    if isinstance(value, dict):
        return {k: _replace(v, swap) for k, v in value.items()}
    return value


class Held:
    """A value the student's function returned that is not plain data; it stays in the sandbox."""

    def __init__(self, key):
        self.key = key

    def __repr__(self):
        return f"<an object of the student's, held in the sandbox (#{self.key})>"


_EXCEPTIONS = {}


def _exception_type(name):
    """An exception class named like the student's (only the name travels, never the class)."""
    name = name if name.isidentifier() else "Exception"
    if name not in _EXCEPTIONS:
        _EXCEPTIONS[name] = type(name, (StudentRaised,), {})
    return _EXCEPTIONS[name]
