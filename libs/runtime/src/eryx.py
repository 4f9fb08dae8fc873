"""What the eryx host offers to the code running in this sandbox.

Callbacks (tools) the host registered are plain functions here:

    from eryx import tools, atools
    tools.list()                        # [{"name": ..., "description": ..., "schema": {...}}, ...]
    hits = tools.search("wasm", limit=3)           # calls the host and waits for the result
    a, b = await asyncio.gather(atools.search("a"), atools.search("b"))   # concurrently

Positional arguments fill the callback's parameters in the order of its schema (required
ones first); keyword arguments name them. Arguments and results travel as JSON: an argument
that JSON cannot represent raises TypeError naming it. A failure on the host side raises
CallbackError (CallbackTimeout when the per-call timeout passed, CallbackLimitError when a
limit of the sandbox refused the call, UnknownCallbackError for a name the host does not
offer).

asyncio works: importing it installs eryx.EventLoop as the default loop. Its waits are done
by the host, so timers (asyncio.sleep, wait_for) really wait and callbacks started with
`atools` run concurrently. Top-level `await` in executed code runs on a new such loop.
"""

import sys

import _eryx_host

__all__ = ["tools", "atools", "CallbackError", "CallbackTimeout", "CallbackLimitError", "UnknownCallbackError"]

_FAILED, _UNKNOWN, _TIMEOUT, _LIMIT, _FINISHED = 1, 2, 3, 4, 5


class CallbackError(Exception):
    """A host callback failed; `message` is what the host said, `callback` its name."""

    def __init__(self, message, callback=None):
        super().__init__(message)
        self.message = message
        self.callback = callback


class CallbackTimeout(CallbackError, TimeoutError):
    """The callback did not answer within the sandbox's per-call timeout."""


class CallbackLimitError(CallbackError):
    """A limit of the sandbox (calls per execute, payload size) refused the call."""


class UnknownCallbackError(CallbackError, AttributeError):
    """The host offers no callback of that name."""


def _error(kind, message, name):
    cls = {_TIMEOUT: CallbackTimeout, _LIMIT: CallbackLimitError, _UNKNOWN: UnknownCallbackError}.get(kind)
    return (cls or CallbackError)(message, name)


_infos = None


def _callbacks():
    """name -> (description, schema_json, params), fetched from the host once per sandbox."""
    global _infos
    if _infos is None:
        infos = {name: (description, schema, params) for name, description, schema, params in _eryx_host.callbacks()}
        if not infos:
            return infos
        _infos = infos
    return _infos


_codec = None


def _json_codec():
    """(dumps, loads) for host calls, built once: json.dumps with options and json.loads build
    an encoder or run whitespace regexes on every call, which cost more than the host call."""
    global _codec
    if _codec is None:
        import json
        from json import decoder, encoder, scanner

        def default(value):
            raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

        make = encoder.c_make_encoder
        if make is None:  # no C accelerator: the plain functions
            dumper = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
        else:

            def dumper(value):
                # A fresh markers dict per call: circular references raise ValueError.
                return "".join(make({}, default, encoder.encode_basestring, None, ":", ",", False, False, False)(value, 0))

        scan = scanner.make_scanner(decoder.JSONDecoder())

        def loader(text):
            # The host sends compact JSON (no surrounding whitespace); anything else goes the long way.
            try:
                value, end = scan(text, 0)
            except StopIteration:
                end = -1
            return value if end == len(text) else json.loads(text)

        _codec = (dumper, loader)
    return _codec


def _encode(name, params, args, kwargs):
    if not args and not kwargs:
        return "{}"
    if len(args) > len(params):
        raise TypeError(f"{name}() takes at most {len(params)} positional arguments ({len(args)} given)")
    values = dict(zip(params, args))
    for key, value in kwargs.items():
        if key in values:
            raise TypeError(f"{name}() got multiple values for argument {key!r}")
        values[key] = value
    dumps = _json_codec()[0]
    try:
        return dumps(values)
    except (TypeError, ValueError, RecursionError):
        for key, value in values.items():
            try:
                dumps(value)
            except (TypeError, ValueError, RecursionError) as exc:
                raise TypeError(
                    f"argument {key!r} of {name}() is not JSON-representable ({type(value).__name__}): {exc}"
                ) from None
        raise


def _decode(text):
    return _json_codec()[1](text)


class Callback:
    """One host callback. Calling it waits for the host (`tools`) or returns a coroutine (`atools`)."""

    __slots__ = ("name", "description", "schema", "_params", "_async")

    def __init__(self, name, description, schema, params, is_async):
        self.name = name
        self.description = description
        self.schema = schema
        self._params = params
        self._async = is_async

    def __call__(self, *args, **kwargs):
        payload = _encode(self.name, self._params, args, kwargs)
        if self._async:
            return _call_async(self.name, payload)
        kind, text = _eryx_host.call(self.name, payload)
        if kind:
            raise _error(kind, text, self.name)
        return _decode(text)

    def __repr__(self):
        return f"<eryx callback {self.name}{' (async)' if self._async else ''}>"


class _Namespace:
    """The host's callbacks as attributes; `list()` describes them, `call(name, ...)` calls by name."""

    def __init__(self, is_async):
        self._async = is_async

    def _callback(self, name):
        info = _callbacks().get(name)
        if info is None:
            offered = ", ".join(sorted(_callbacks())) or "none"
            raise UnknownCallbackError(f"the host offers no callback named {name!r} (offered: {offered})", name)
        description, schema, params = info
        return Callback(name, description, schema, params, self._async)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._callback(name)

    def __dir__(self):
        return sorted(set(_callbacks()) | {"list", "call"})

    def list(self):
        """Every callback: its name, description and JSON Schema of its arguments."""
        import json

        return [
            {"name": name, "description": description, "schema": json.loads(schema)}
            for name, (description, schema, _) in _callbacks().items()
        ]

    def call(self, name, /, *args, **kwargs):
        """Calls the callback `name` (for names that are not identifiers, or `list`/`call`)."""
        return self._callback(name)(*args, **kwargs)


tools = _Namespace(False)
atools = _Namespace(True)

# Started host calls that a coroutine awaits: call id -> future of (kind, text).
_pending = {}


async def _call_async(name, payload):
    kind, value = _eryx_host.start(name, payload)
    if kind == _FINISHED:
        # The callback answered at once: no trip through the event loop.
        return _decode(value)
    if kind:
        raise _error(kind, value, name)
    import asyncio

    loop = asyncio.get_running_loop()
    future = loop.create_future()
    _pending[value] = future
    try:
        kind, text = await future
    finally:
        if _pending.pop(value, None) is not None:
            _eryx_host.cancel(value)
    if kind:
        raise _error(kind, text, name)
    return _decode(text)


class _HostSelector:
    """What asyncio's loop waits on: the host, until a started call completes or the timeout."""

    def select(self, timeout):
        if timeout is not None and timeout <= 0 and not _pending:
            return ()
        nanos = -1 if timeout is None else max(0, int(timeout * 1e9))
        return _eryx_host.wait(nanos)

    def close(self):
        pass


def _make_event_loop_class(base_events):
    class EventLoop(base_events.BaseEventLoop):
        """asyncio's loop inside eryx: WASI has no sockets pair to wake a selector, so the
        loop waits through the host, which knows the timers' deadline and the started calls."""

        def __init__(self):
            super().__init__()
            self._selector = _HostSelector()

        def _process_events(self, event_list):
            for call_id, kind, text in event_list:
                future = _pending.pop(call_id, None)
                if future is not None and not future.done():
                    future.set_result((kind, text))

        def _write_to_self(self):
            # Only other threads need waking up, and the guest has one thread.
            pass

    return EventLoop


def _install_event_loop(asyncio):
    from asyncio import base_events, events

    global EventLoop
    EventLoop = _make_event_loop_class(base_events)

    class _Policy(events._BaseDefaultEventLoopPolicy):
        _loop_factory = EventLoop

    events._set_event_loop_policy(_Policy())
    asyncio.EventLoop = EventLoop


class _PatchingLoader:
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _install_event_loop(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _AsyncioFinder:
    """Installs the eryx loop when asyncio is first imported (so that importing eryx stays cheap)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name != "asyncio":
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _PatchingLoader(spec.loader)
        return spec


def __getattr__(name):
    if name == "EventLoop":
        import asyncio  # noqa: F401 (defines EventLoop)

        return globals()["EventLoop"]
    raise AttributeError(f"module 'eryx' has no attribute {name!r}")


if "asyncio" in sys.modules:
    _install_event_loop(sys.modules["asyncio"])
else:
    sys.meta_path.insert(0, _AsyncioFinder)

_TOP_LEVEL_AWAIT = 0x2000  # ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE


def _run_code(source, namespace, filename="<sandbox>", mode="exec"):
    """Runs `source` (str, or bytes honouring a coding declaration) in `namespace`, compiled
    in `mode` (`single`: a REPL entry, whose expression values are displayed); code with
    top-level `await` runs on a new event loop."""
    code = compile(source, filename, mode, flags=_TOP_LEVEL_AWAIT)
    if not code.co_flags & _CO_COROUTINE:
        exec(code, namespace)
        return
    import asyncio

    try:
        asyncio.run(eval(code, namespace))
    except BaseException as exc:
        # Show the traceback from the user's code on, not through asyncio's runner.
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != filename:
            tb = tb.tb_next
        raise exc.with_traceback(tb or exc.__traceback__)
