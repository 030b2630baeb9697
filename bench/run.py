"""`make bench`: the subscription sweep benchmark (see bench/sweep_bench.py and bench/REPORT.md).

Extra arguments go to sweep_bench, e.g. `.venv/bin/python bench/run.py --tenants 1000`.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sweep_bench  # noqa: E402

if __name__ == "__main__":
    sys.exit(sweep_bench.main(sys.argv[1:]))
