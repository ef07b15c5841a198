"""Executes notebooks top to bottom with nbclient and fails on the first cell error.

    python tests/support/run_notebooks.py notebooks/*.ipynb

Used by tests/notebooks.rs, which sets the FOREWARN_* environment the notebooks read (a
ClickHouse test server with demo data and forewarn's state). Each notebook runs in its own
kernel from this interpreter, with notebooks/ as the working directory so `forewarn_sql`
imports; nothing is written back (outputs stay stripped in git).
"""

import pathlib
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main(paths):
    failed = 0
    for path in map(pathlib.Path, paths):
        book = nbformat.read(path, as_version=4)
        client = NotebookClient(
            book,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent.resolve())}},
        )
        try:
            client.execute()
        except CellExecutionError as error:
            failed += 1
            print(f"FAILED {path}:\n{error}", flush=True)
            continue
        cells = sum(1 for cell in book.cells if cell.cell_type == "code")
        print(f"ok {path} ({cells} code cells)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
