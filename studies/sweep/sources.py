"""Where a sweep table's inputs come from: a generator with parameters or a file, with its hash.

:class:`Source` holds what Part 1's streams (:class:`~prefix_sched.studies.sweep.spec.StreamSource`)
and the serving workloads (:class:`~prefix_sched.studies.sweep.serving_spec.TraceSource`) share: the
table and variant they come from, the generator or file, and the identity a cell's hash is taken
over. What it leaves out: what each adds (loads or rates, classes, seeds) and how they are read.

Examples
--------
>>> Source("small", "rate=1/2", "poisson", (("rate", "1/2"),), None, None, None).identity()
{'stream': 'small[rate=1/2]', 'generator': 'poisson', 'rate': '1/2'}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Source:
    """A generator with parameters, or a file.

    Attributes
    ----------
    table : str
        The spec table it comes from.
    variant : str
        The swept generator parameters, ``"rate=1/2000"``; empty when none is swept.
    kind : str
        The generator's name or ``"file"``.
    params : tuple of (str, value)
        Generator parameters, or a file's reading options; values as
        :func:`~prefix_sched.theory.numbers.to_json` writes them.
    file : str or None
        The file as the spec writes it; ``path`` the file it names, ``sha256`` its bytes' hash.
    """

    IDENTITY_KEY: ClassVar[str] = "stream"
    """The key the label has in :meth:`identity` (``"trace"`` for serving workloads)."""

    table: str
    variant: str
    kind: str
    params: tuple[tuple[str, Any], ...]
    file: str | None
    path: str | None
    sha256: str | None

    @property
    def label(self) -> str:
        """``table`` or ``table[variant]``."""
        return f"{self.table}[{self.variant}]" if self.variant else self.table

    def source(self) -> dict[str, Any]:
        """Where the inputs come from, for the results table (the file as the spec names it)."""
        if self.kind == "file":
            return {"file": self.file, "sha256": self.sha256, **dict(self.params)}
        return {"generator": self.kind, **dict(self.params)}

    def identity(self) -> dict[str, Any]:
        """What the inputs depend on: the source without the file's name, and the label."""
        source = self.source()
        source.pop("file", None)
        return {self.IDENTITY_KEY: self.label, **source}
