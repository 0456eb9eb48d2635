"""`make bench`: throughput, latency, cold start, memory and network figures of the connector.

The connector's package lives in `src/` (pytest adds it through `pythonpath`); `python -m bench.run`
starts from the repository root, so the path is added here once for every bench module.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"

if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))
