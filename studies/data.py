"""The team's shared data (../shared/data beside the checkout), found one way.

CI and every session put the team's ``shared/`` folder beside the clone of the repository, so a
file of it is ``<checkout>/../shared/<relative>``. :func:`find_shared` looks there first (the
checkout is the folder holding this package's source, for an editable install), then beside the
current folder and each of its parents (for an installed wheel run from inside a checkout).
Studies, notebooks and benchmarks ask it for every shared file; none spells an absolute path.

Examples
--------
>>> find_shared("no/such/file.jsonl", "/") is None
True
>>> MOONCAKE_TRACE, SHAREGPT_LENGTHS, AZURE_CONVERSATIONS
('data/mooncake_conversation_trace.jsonl', 'data/sharegpt_lengths_llama2.csv', 'data/azure_llm_2023_conv.csv')
"""

from __future__ import annotations

from pathlib import Path

MOONCAKE_TRACE = "data/mooncake_conversation_trace.jsonl"
SHAREGPT_LENGTHS = "data/sharegpt_lengths_llama2.csv"
AZURE_CONVERSATIONS = "data/azure_llm_2023_conv.csv"
CHECKOUT = Path(__file__).resolve().parents[1]
"""The repository root when this package is installed from a checkout (editable)."""


def find_shared(relative: str, start: Path | str = ".") -> Path | None:
    """The file ``shared/<relative>`` beside the checkout, else beside ``start`` or one of its
    parents; None when there is none.

    Parameters
    ----------
    relative : str
        The path inside ``shared/``, e.g. :data:`MOONCAKE_TRACE`.
    start : path, default the current folder
        Where the fallback search starts.
    """
    here = Path(start).resolve()
    for folder in (CHECKOUT.parent, here, *here.parents):
        candidate = folder / "shared" / relative
        if candidate.is_file():
            return candidate
    return None
