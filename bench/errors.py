"""The errors the benchmark raises for input it cannot act on: one base, :class:`BenchError`.

Each is a ``ValueError`` whose message is one line naming what is wrong (a file and field, an
argument, a model); the command lines print it as ``error: ...``. Every other exception is a bug.
The subclasses say which part of the benchmark refused: ``TaskError`` (tasks), ``ModelError``
(checkpoints), ``ProgramError`` (programs), ``MethodError`` (METHOD), ``ResultsError``
(results.json), ``SubmissionError`` (submission.json), ``UsageError`` (command-line arguments), ...
"""


class BenchError(ValueError):
    """Input the benchmark cannot act on; the message is one line naming what is wrong."""


class UsageError(BenchError):
    """A command-line argument, or a combination of them, that cannot be acted on."""
