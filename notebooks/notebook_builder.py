"""Write a clean notebook (no outputs) from ("md" | "code", text) cells; the build_* scripts use it.

Cell ids are their positions, so building an unchanged notebook again changes nothing.

>>> import json, tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> path = write_notebook(folder / "x.ipynb", [("md", "# Title"), ("code", "1 + 1")])
>>> [cell["cell_type"] for cell in json.loads(path.read_text())["cells"]]
['markdown', 'code']
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def write_notebook(path: Path, cells: list[tuple[str, str]]) -> Path:
    """Write ``cells`` as a Python 3 notebook at ``path`` and return the path."""
    unknown = [kind for kind, _ in cells if kind not in ("md", "code")]
    if unknown:
        raise ValueError(f"cell kinds must be 'md' or 'code', got {unknown[0]!r}")
    nb = new_notebook(cells=[(new_markdown_cell if kind == "md" else new_code_cell)(text, id=f"cell-{number}")
                             for number, (kind, text) in enumerate(cells)])  # stable ids: rebuilds diff cleanly
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path
