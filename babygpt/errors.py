"""One-line errors: what a tool prints when it refuses something (never a traceback).

Importing this file reads nothing and trains nothing.
"""


def first_line(error):
    """An exception's message, its first line only (or its type's name when it has none)."""
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
