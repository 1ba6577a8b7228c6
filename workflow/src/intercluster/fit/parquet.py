"""The chunk tables on disk: deterministic parquet (byte-identical for equal content), merged
or read in bounded batches and by point."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..io import writing

ROW_GROUP_ROWS = 32_768

def write_parquet(frame: pd.DataFrame, path) -> None:
    """Write a frame without index, deterministic for equal content (byte-identical)."""
    import pyarrow as pa
    import pyarrow.parquet as pq


    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    table = table.replace_schema_metadata(None)
    # row groups of bounded size, so that readers can stream a large table (chi2_streaming)
    with writing(path):
        pq.write_table(
            table, path, compression="zstd", write_statistics=False, row_group_size=ROW_GROUP_ROWS
        )


def read_parquet(path) -> pd.DataFrame:
    return pd.read_parquet(path)


def merge_chunks(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate chunk tables, sorted by point; every point exactly once."""
    frame = pd.concat(list(frames), ignore_index=True).sort_values("point")
    if frame["point"].duplicated().any():
        raise ValueError("a grid point appears in more than one chunk")
    return frame.reset_index(drop=True)


def chunk_batches(paths: Sequence, batch_rows: int = ROW_GROUP_ROWS):
    """Chunk files (parquet, :func:`run_chunk` layout) as a source of :func:`chi2_reduce`:
    read in batches of ``batch_rows`` rows, only the columns asked for."""
    import pyarrow.parquet as pq

    def read(columns):
        for path in paths:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows,
                                                           columns=columns):  # fmt: skip
                yield batch.to_pandas()

    return read


def chunk_row(paths: Sequence, point: int) -> pd.DataFrame:
    """The one row of ``point`` from a sample's chunk files (read with a filter, not whole)."""
    import pyarrow.parquet as pq

    for path in paths:
        table = pq.read_table(path, filters=[("point", "==", int(point))])
        if table.num_rows:
            return table.to_pandas()
    raise ValueError(f"point {point} not in the chunk tables")
