"""The toolkit's error tree, and the exit status each branch means.

Every error a user can cause is a :class:`PrefixSchedError` whose message names the bad value;
the CLI turns it into one line on stderr and exit status 2. A :class:`CheckFailed` is not bad
input: it is a check the toolkit ran and the input failed (a broken guarantee, a wrong
certificate), and the CLI exits 1 for it.

    PrefixSchedError (ValueError)          exit 2: bad input
    +-- InputError          a value outside its domain (negative length, NaN, k < 0, ...)
    |   +-- StreamError     a stream that breaks Definition 1 (duplicate ids, empty, ...)
    |   +-- FormatError     a malformed file (bad JSON, missing field, wrong version, ...)
    +-- OutputError         an output path that cannot be written (missing folder, read-only, ...)
    +-- UnknownPolicyError  a policy name not in the registry
    CheckFailed (Exception)                exit 1: a check failed

Exit statuses, one meaning each: :data:`EXIT_OK` 0 success, :data:`EXIT_CHECK_FAILED` 1 a check
failed (proven infeasible, a guarantee broken, a certificate wrong), :data:`EXIT_BAD_INPUT` 2 bad
input, :data:`EXIT_UNKNOWN` 3 unknown (a time-out: no claim either way).
"""

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_UNKNOWN = 3


class PrefixSchedError(ValueError):
    """Base class of every error the toolkit raises on bad input."""


class InputError(PrefixSchedError):
    """A parameter or value outside its domain."""


class StreamError(InputError):
    """A query stream that violates Definition 1 or the segment rules."""


class FormatError(InputError):
    """A malformed stream, schedule or trace file."""


class OutputError(PrefixSchedError):
    """An output path that cannot be written."""


class UnknownPolicyError(PrefixSchedError):
    """A scheduling policy name that is not registered."""


class CheckFailed(Exception):
    """A check the toolkit ran failed: the command's verdict is "no" (exit 1), not bad input."""
