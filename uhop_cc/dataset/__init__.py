"""The LLM kernel dataset: archived attempts (`store.DatasetStore`), their records (`records`),
and the best-kernel cache (`cache.lookup` / `cache.store`)."""
from __future__ import annotations

from .records import STATUSES, SUCCESS, AttemptRecord, Scrubber, new_attempt_id
from .store import DatasetStore, default_dir, sizes_key

__all__ = ["STATUSES", "SUCCESS", "AttemptRecord", "Scrubber", "new_attempt_id", "DatasetStore", "default_dir",
           "sizes_key"]
