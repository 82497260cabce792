"""zsession_ipp_comm: numpy arrays to and from a Python ipengine, without pickle.

A C++ zsession client (include/zsession/ipp/client_arrays.hpp) sends this module's source
to the engines in one execute_request and calls register(). From then on the engine answers
the comm target "zsession.array" (docs/IPYPARALLEL-CLIENT.md, "Arrays"):

    request data  {"op": "push", "name": "x", "dtype": "<f8", "shape": [2, 3], "order": "C"}
                  + one buffer holding the array's bytes
                  {"op": "pull", "expr": "x * 2"}
                  {"op": "echo", "dtype": ..., "shape": ..., "order": ...} + one buffer
                  {"op": "info"}
    reply data    {"status": "ok", "op": ..., "request": <request msg_id>,
                   "dtype", "shape", "order", "nbytes"} + the array's buffer (pull, echo)
                  {"status": "error", "ename", "evalue", "request"} on any failure

Replies travel as comm_msg on iopub with parent_header = the request. Arrays received by
push are read-only numpy views of the received frame (np.frombuffer, no copy).

register(direct=True) also starts a *direct endpoint*: a ROUTER socket served by a thread,
speaking the same ops as `array_request` / `array_reply` messages signed with the engine's
cluster key, so bulk arrays need not cross the controller. Its address is in the "info"
reply as "direct". register(direct=True, curve=True) (a curve-enabled cluster, whose
messages are unsigned) makes the endpoint a CurveZMQ server with a fresh key pair of the
engine's own; the "info" reply carries its public key as "curve_serverkey", so only clients
of the cluster (which reach "info" through the curve-secured controller) can connect.
"""

import threading

import numpy as np
from IPython import get_ipython

TARGET = "zsession.array"
VERSION = 1
_state = {"direct": "", "curve_serverkey": ""}
_ALLOWED_KINDS = "biufc"


def _from_request(data, buffers):
    if len(buffers) != 1:
        raise ValueError(f"expected 1 buffer, got {len(buffers)}")
    dtype = np.dtype(data["dtype"])
    if dtype.kind not in _ALLOWED_KINDS:
        raise TypeError(f"dtype {dtype.str} is not numeric")
    shape = tuple(int(n) for n in data.get("shape", []))
    order = data.get("order", "C")
    if order not in ("C", "F"):
        raise ValueError(f"order must be 'C' or 'F', not {order!r}")
    arr = np.frombuffer(buffers[0], dtype=dtype)
    return arr.reshape(shape, order=order)


def _describe(arr):
    """Reply content and the one buffer (memory order, no copy when contiguous)."""
    arr = np.asarray(arr)
    if arr.dtype.kind not in _ALLOWED_KINDS:
        raise TypeError(f"dtype {arr.dtype.str} is not numeric")
    if arr.flags.c_contiguous:
        order = "C"
    elif arr.flags.f_contiguous:
        order = "F"
    else:
        arr = np.ascontiguousarray(arr)
        order = "C"
    flat = arr.ravel(order="K").view(np.uint8)
    content = {"status": "ok", "dtype": arr.dtype.str, "shape": list(arr.shape),
               "order": order, "nbytes": int(arr.nbytes)}
    return content, [memoryview(flat)]


def handle(data, buffers, namespace):
    """Runs one request; returns (reply content, reply buffers). Never raises."""
    op = data.get("op") if isinstance(data, dict) else None
    try:
        if op == "push":
            arr = _from_request(data, buffers)
            namespace[str(data["name"])] = arr
            content, out = {"status": "ok", "nbytes": int(arr.nbytes)}, []
        elif op == "pull":
            content, out = _describe(eval(str(data["expr"]), namespace))
        elif op == "echo":
            _from_request(data, buffers)  # validates dtype, shape and size
            content = {"status": "ok", "dtype": data["dtype"], "shape": data.get("shape", []),
                       "order": data.get("order", "C"), "nbytes": len(memoryview(buffers[0]))}
            out = [buffers[0]]
        elif op == "info":
            content = {"status": "ok", "version": VERSION, "direct": _state["direct"],
                       "curve_serverkey": _state["curve_serverkey"]}
            out = []
        else:
            raise ValueError(f"unknown op {op!r}")
    except Exception as e:  # every failure goes back to the client as data
        content, out = {"status": "error", "ename": type(e).__name__, "evalue": str(e)}, []
    content["op"] = op
    return content, out


def _namespace():
    return get_ipython().user_ns


def _reply(comm, msg):
    content, buffers = handle(msg["content"]["data"], msg.get("buffers") or [], _namespace())
    content["request"] = msg["header"]["msg_id"]
    comm.send(content, buffers=buffers)


def _on_open(comm, msg):
    comm.on_msg(lambda m: _reply(comm, m))
    _reply(comm, msg)


def _serve_direct(sock, session, namespace):
    while True:
        try:
            idents, frames = session.feed_identities(sock.recv_multipart(copy=False), copy=False)
            msg = session.deserialize(frames, content=True, copy=False)
        except Exception:  # bad signature or frames: dropped, as the controller does
            continue
        content, buffers = handle(msg["content"], msg["buffers"], namespace)
        content["request"] = msg["header"]["msg_id"]
        session.send(sock, "array_reply", content, parent=msg, ident=idents, buffers=buffers)


def start_direct(interface="tcp://127.0.0.1", curve=False):
    """Binds the direct endpoint on `interface` (random port); returns its address.

    With curve=True the endpoint is a CurveZMQ server with a fresh key pair."""
    if _state["direct"]:
        return _state["direct"]
    import zmq
    from jupyter_client.session import Session

    kernel = get_ipython().kernel
    # copy_threshold: pyzmq frees zero-copy frames through its garbage-collector thread, which
    # needs the GIL; under load that handoff cost ~9 ms per reply between 64 KiB and 256 KiB.
    # Copying replies below 1 MiB costs tens of microseconds instead.
    session = Session(key=kernel.session.key, signature_scheme=kernel.session.signature_scheme,
                      packer="json", unpacker="json", username="zsession-direct",
                      copy_threshold=1 << 20)
    sock = zmq.Context.instance().socket(zmq.ROUTER)
    sock.linger = 0
    if curve:
        public, secret = zmq.curve_keypair()
        sock.curve_server = True
        sock.curve_secretkey = secret
        _state["curve_serverkey"] = public.decode("ascii")
    port = sock.bind_to_random_port(interface)
    thread = threading.Thread(target=_serve_direct, args=(sock, session, _namespace()),
                              name="zsession-direct", daemon=True)
    thread.start()
    _state["direct"] = f"{interface}:{port}"
    return _state["direct"]


def register(direct=False, interface="tcp://127.0.0.1", curve=False):
    """Registers the comm target (idempotent); with direct=True also starts the endpoint
    (a CurveZMQ server when curve=True)."""
    get_ipython().kernel.comm_manager.register_target(TARGET, _on_open)
    if direct:
        start_direct(interface, curve)
    return {"version": VERSION, "direct": _state["direct"],
            "curve_serverkey": _state["curve_serverkey"]}
