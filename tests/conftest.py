import sys
from pathlib import Path

# tests share strategies.py and helpers at this level
sys.path.insert(0, str(Path(__file__).resolve().parent))
