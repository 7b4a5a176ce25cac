"""The LLM kernel dataset: archived attempts (`store.DatasetStore`), their records (`records`),
the best-kernel cache (`cache.lookup` / `cache.store`), and the index's health (`index`, `fsck`):
a bad index or record is a DatasetError, never a sqlite3 traceback."""
from __future__ import annotations

from .records import STATUSES, SUCCESS, AttemptRecord, Scrubber, new_attempt_id
from .index import DatasetError
from .store import DatasetStore, default_dir, sizes_key

__all__ = ["STATUSES", "SUCCESS", "AttemptRecord", "Scrubber", "new_attempt_id", "DatasetStore", "DatasetError",
           "default_dir", "sizes_key"]
