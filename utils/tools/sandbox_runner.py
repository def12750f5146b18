"""What runs inside the grading sandbox: the student's code, and nothing that judges it.

    python -m utils.tools.sandbox_runner        (started by utils.tools.sandbox, never by hand)

The grader (utils.tools.grade) talks to this process over its stdin and stdout. It sends the
student's exercise cells (with the import lines of the lecture cells before them), then asks
for calls: "call the student's ``rnn_forward`` on these arrays". The runner calls the
function and sends back what it returned, as plain data. It runs no check and knows no
expected value; every verdict is made in the grader's own process (utils.tools.grading_cases).

The wire format is also defined here, since both ends must agree on it: a message is 8 bytes
of length, then that many bytes of JSON. Arrays travel as ``{"__nd__": [dtype, shape,
base64 of the raw bytes]}`` (numeric and boolean dtypes only), tuples as ``{"__tuple__":
[...]}``, dicts with string keys as ``{"__dict__": {...}}``; never pickle. What cannot travel
(a student's own object) stays here as ``{"__held__": k}`` and can be passed back by that
reference. From the grader also come a few recipes the runner builds with course code:
``__rng__`` (a numpy Generator from its state), ``__tensor__`` (a torch tensor),
``__callback__`` (a function the grader runs when the student calls it, e.g. a decoder step),
and ``__build__`` (a course model or an optimizer over it, see ``BUILDERS``).
"""
import base64
import json
import linecache
import os
import signal
import struct
import sys
import traceback

import numpy as np

MAX_MESSAGE = 512 * 2 ** 20  # bytes; a longer message is refused by the grader
KINDS = "biufc"  # bool, signed, unsigned, float, complex: the dtypes an array may travel with
CELL_PREFIX = "<cell "  # file name given to each executed cell, for the line of an error


class ProtocolError(Exception):
    """A message that is not in the wire format (or is too long)."""


def write_message(stream, message):
    data = json.dumps(message, allow_nan=True).encode()
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def read_message(stream):
    """The next message from a binary stream; raises EOFError at the end of the stream."""
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("the other end closed the channel")
    size = struct.unpack("<Q", head)[0]
    if size > MAX_MESSAGE:
        raise ProtocolError(f"a message of {size} bytes (more than {MAX_MESSAGE})")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other end closed the channel mid-message")
    try:
        message = json.loads(data)
    except ValueError as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a JSON object")
    return message


def encode_array(a):
    a = np.asarray(a)
    a = a if a.flags.c_contiguous else a.copy()
    if a.dtype.kind not in KINDS:
        raise TypeError(f"an array of dtype {a.dtype} cannot travel")
    return {"__nd__": [a.dtype.str, list(a.shape), base64.b64encode(a.tobytes()).decode()]}


def decode_array(spec):
    dtype, shape, data = spec
    dtype = np.dtype(dtype)
    if dtype.kind not in KINDS or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise ProtocolError(f"an array of dtype {dtype} and shape {shape} cannot travel")
    raw = base64.b64decode(data)
    if len(raw) != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
        raise ProtocolError("array bytes do not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def encode(value, other):
    """Plain data for ``value``; ``other(value)`` encodes what is not plain data (or raises)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) and type(value) in (int, float, bool):
        return value
    if isinstance(value, np.generic) and value.dtype.kind in KINDS:
        return {"__np__": encode_array(np.asarray(value))}
    if isinstance(value, np.ndarray) and value.dtype.kind in KINDS:
        return encode_array(value)
    if isinstance(value, list) and type(value) is list:
        return [encode(v, other) for v in value]
    if isinstance(value, tuple) and type(value) is tuple:
        return {"__tuple__": [encode(v, other) for v in value]}
    if type(value) is dict and all(type(k) is str for k in value):
        return {"__dict__": {k: encode(v, other) for k, v in value.items()}}
    return other(value)


def decode(value, other):
    """The value ``encode`` made; ``other(tag, spec)`` decodes the tags this module leaves out."""
    if isinstance(value, list):
        return [decode(v, other) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        raise ProtocolError("an encoded object has exactly one tag")
    (tag, spec), = value.items()
    if tag == "__nd__":
        return decode_array(spec)
    if tag == "__np__":
        return decode_array(spec["__nd__"])[()]
    if tag == "__tuple__":
        return tuple(decode(v, other) for v in spec)
    if tag == "__dict__":
        return {k: decode(v, other) for k, v in spec.items()}
    return other(tag, spec)


# --- the runner's side ---------------------------------------------------------------------

def _build_char_lm(spec, built):
    from utils.models.char_lm import CharLM  # course code, imported only when a case asks for it
    import torch  # as above: most exercises need no torch
    model = CharLM(**spec["kwargs"])
    model.load_state_dict({k: torch.from_numpy(decode_array(v["__nd__"]))
                           for k, v in spec["state"].items()})
    return model


def _build_sgd(spec, built):
    import torch  # only the cases that train a model need torch
    return torch.optim.SGD(built[spec["of"]].parameters(), lr=spec["lr"])


BUILDERS = {"char_lm": _build_char_lm, "sgd": _build_sgd}


class Runner:
    """Executes the student's cells, then answers calls until the grader closes the channel."""

    def __init__(self, inp, out):
        self.inp, self.out = inp, out
        self.namespace = {"__name__": "__main__", "__builtins__": __builtins__}
        self.held, self.graphs, self.pid = {}, {}, os.getpid()

    # values from the grader
    def _from_grader(self, tag, spec, built, rngs, tensors):
        if tag == "__held__":
            return self.held[spec]
        if tag == "__rng__":
            rng = np.random.Generator(getattr(np.random, spec["bit_generator"])())
            rng.bit_generator.state = spec["state"]
            rngs.append(rng)
            return rng
        if tag == "__tensor__":
            import torch  # only the torch exercises send tensors
            t = torch.from_numpy(decode_array(spec["data"]["__nd__"]))
            t.requires_grad_(bool(spec["requires_grad"]))
            tensors.append(t)
            return t
        if tag == "__callback__":
            return self._callback(spec)
        if tag == "__build__":
            obj = BUILDERS[spec["recipe"]](spec, built)
            built[spec["id"]] = obj
            return obj
        raise ProtocolError(f"unknown tag {tag}")

    def _callback(self, k):
        def grader_function(*args, **kwargs):
            write_message(self.out, {"op": "callback", "callback": k,
                                     "args": self._to_grader(list(args)),
                                     "kwargs": self._to_grader(kwargs)})
            reply = read_message(self.inp)
            if reply.get("op") == "raise":
                raise RuntimeError(reply["message"])
            return decode(reply["value"], lambda tag, spec: self._from_grader(tag, spec, {}, [], []))
        return grader_function

    # values to the grader
    def _to_grader(self, value, leaves=None):
        def other(v):
            if type(v).__module__ == "torch" and type(v).__name__ in ("Tensor", "Parameter"):
                if leaves is not None and v.requires_grad:
                    leaves.append(v)
                    index = len(leaves) - 1
                else:
                    index = None
                return {"__tensor__": {"data": encode_array(v.detach().cpu().numpy()), "leaf": index}}
            key = len(self.held)
            self.held[key] = v
            return {"__held__": key}
        return encode(value, other)

    def load(self, message):
        errors = {}
        for label, source in message["cells"]:
            filename = f"{CELL_PREFIX}{label}>"
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            try:
                exec(compile(source, filename, "exec"), self.namespace)
            except BaseException as exc:  # anything the student's cell raises is reported
                errors[label] = describe(exc)
            self._only_main()
        return {"op": "loaded", "errors": errors,
                "defined": sorted(k for k, v in self.namespace.items() if callable(v))}

    def call(self, message):
        built, rngs, tensors = {}, [], []
        decode_ = lambda tag, spec: self._from_grader(tag, spec, built, rngs, tensors)  # noqa: E731
        fn = self.namespace.get(message["fn"])
        args, kwargs = decode(message["args"], decode_), decode(message["kwargs"], decode_)
        if not callable(fn):
            return {"op": "raised", "type": "NameError",
                    "message": f"name {message['fn']!r} is not defined (did its cell run?)"}
        try:
            value = fn(*args, **kwargs)
        except BaseException as exc:  # the student's error goes back to the grader as text
            self._only_main()
            return {"op": "raised", "type": type(exc).__name__, "message": describe(exc)}
        self._only_main()
        leaves = []
        reply = {"op": "result", "value": self._to_grader(value, leaves),
                 "args_after": self._to_grader(list(args)), "kwargs_after": self._to_grader(kwargs),
                 "rngs_after": [r.bit_generator.state for r in rngs],
                 "built_after": {str(k): {n: encode_array(p.detach().cpu().numpy())
                                          for n, p in obj.state_dict().items()}
                                 for k, obj in built.items() if hasattr(obj, "state_dict")
                                 and hasattr(obj, "parameters") and not hasattr(obj, "step")}}
        inputs = [t for t in tensors if t.requires_grad]
        if inputs and leaves:
            self.graphs[message["id"]] = (inputs, leaves)
        return reply

    def vjp(self, message):
        """Gradients of sum(output * cotangent) with respect to the inputs that require grad."""
        import torch  # only the torch exercises ask for gradients
        inputs, leaves = self.graphs.pop(message["id"])
        cotangents = [None if g is None else torch.from_numpy(decode_array(g["__nd__"]))
                      for g in message["grads"]]
        pairs = [(o, g) for o, g in zip(leaves, cotangents) if g is not None]
        if not pairs:
            return {"op": "grads", "value": [None] * len(inputs)}
        grads = torch.autograd.grad([o for o, _ in pairs], inputs, [g.to(o.dtype) for o, g in pairs],
                                    allow_unused=True)
        return {"op": "grads", "value": [None if g is None else encode_array(g.detach().numpy())
                                         for g in grads]}

    def _only_main(self):
        if os.getpid() != self.pid:  # a process the student forked must not answer the grader
            os._exit(0)

    def serve(self):
        handlers = {"load": self.load, "call": self.call, "vjp": self.vjp}
        while True:
            try:
                message = read_message(self.inp)
            except EOFError:
                return
            write_message(self.out, handlers[message["op"]](message))


def describe(exc):
    """``Type: message (line N of your cell: `code`)`` for an exception of the student's code."""
    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.startswith(CELL_PREFIX):
            where = f" (line {frame.lineno} of your cell: `{(frame.line or '').strip()}`)"
            break
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}{where}"[:2000]


def main():
    inp = os.fdopen(os.dup(0), "rb")
    out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)  # what the student prints goes to the log, not into the channel
    sys.stdout = os.fdopen(1, "w", buffering=1)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # process 1 of the sandbox: no zombies kept
    for folder in ("/scratch",):
        if os.path.isdir(folder):
            os.chdir(folder)
    Runner(inp, out).serve()


if __name__ == "__main__":
    main()
