"""eryx_test_rust: a test package whose functions come from a Rust extension (eryx_test_rust._native)."""

from ._native import add, call, counter, fail, greet, implementation

__all__ = ["add", "call", "counter", "fail", "greet", "implementation", "add_then_greet"]


def add_then_greet(a, b):
    """Pure Python on top of the extension: greet(str(add(a, b)))."""
    return greet(str(add(a, b)))
