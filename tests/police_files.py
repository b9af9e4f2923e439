"""Build small police input files in a temp folder from the real shared data (read in place)."""
from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd

SAMPLE_22 = "chicago_crimes/crimes_2016-01_computationforpolicy.csv"
BULK_2015 = "chicago_crimes/chicago_crimes_2015.csv.gz"


def real_rows(data_dir: Path, n: int = 50, layout: str = "22") -> pd.DataFrame:
    """Return the first ``n`` real rows as text (22-column sample or 20-column bulk layout)."""
    path = data_dir / (SAMPLE_22 if layout == "22" else BULK_2015)
    return pd.read_csv(path, dtype=str, nrows=n, keep_default_na=False)


def write_csv(frame: pd.DataFrame, path: Path, gz: bool = False) -> Path:
    text = frame.to_csv(index=False)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def data_dir_with(tmp_path: Path, data_dir: Path, files: dict[str, pd.DataFrame]) -> Path:
    """Return a data folder in tmp holding ``files`` (name -> rows) beside links to the real data.

    Configured inputs must lie inside the data directory, so flows that read their file list
    from the city config get a folder that has both.
    """
    root = tmp_path / "data"
    root.mkdir(exist_ok=True)
    for child in data_dir.iterdir():
        if not (root / child.name).exists():
            (root / child.name).symlink_to(child)
    for name, rows in files.items():
        write_csv(rows, root / name)
    return root
