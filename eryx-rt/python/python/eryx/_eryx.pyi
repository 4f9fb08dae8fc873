"""Type stubs of the native module (used through :mod:`eryx`)."""

__version__: str

class NativeSandbox:
    def __init__(
        self,
        *,
        timeout: float | None = None,
        memory_limit: int | None = None,
        fuel: int | None = None,
        output_limit: int | None = None,
        wheels: list[str] = ...,
        preinit: list[str] | None = None,
    ) -> None: ...
    def execute(self, code: str) -> tuple[str, str, float, bool]: ...
