"""`make bench`: the subscription sweep benchmark (bench/sweep_bench.py); `make bench ARGS=outstanding`
(or `.venv/bin/python bench/run.py outstanding`): the aged-balances report (bench/outstanding_bench.py).
Results and how to read them: bench/REPORT.md.

Extra arguments go to the benchmark, e.g. `.venv/bin/python bench/run.py --tenants 1000` or
`.venv/bin/python bench/run.py outstanding --invoices 5000`.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import outstanding_bench  # noqa: E402
import sweep_bench  # noqa: E402

if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["outstanding"]:
        sys.exit(outstanding_bench.main(args[1:]))
    sys.exit(sweep_bench.main(args))
