"""The toolkit's error tree.

Every error a user can cause is a :class:`PrefixSchedError` whose message names the bad value;
the CLI turns it into one line on stderr and exit status 2.

    PrefixSchedError (ValueError)
    +-- InputError          a value outside its domain (negative length, NaN, k < 0, ...)
    |   +-- StreamError     a stream that breaks Definition 1 (duplicate ids, empty, ...)
    |   +-- FormatError     a malformed file (bad JSON, missing field, wrong version, ...)
    +-- UnknownPolicyError  a policy name not in the registry
"""


class PrefixSchedError(ValueError):
    """Base class of every error the toolkit raises on bad input."""


class InputError(PrefixSchedError):
    """A parameter or value outside its domain."""


class StreamError(InputError):
    """A query stream that violates Definition 1 or the segment rules."""


class FormatError(InputError):
    """A malformed stream, schedule or trace file."""


class UnknownPolicyError(PrefixSchedError):
    """A scheduling policy name that is not registered."""
