"""Schedule search and the tuned-schedule cache (`uhopc tune`)."""
from .cache import TunedSchedule, cache_path, load_all, lookup, store
from .search import Candidate, TuneResult, tune

__all__ = ["tune", "TuneResult", "Candidate", "TunedSchedule", "cache_path", "load_all", "lookup", "store"]
