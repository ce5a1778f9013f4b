"""The README's option tables, generated from conf/ (see biaslab.utils.options):

python scripts/options.py           # print them
python scripts/options.py --write   # rewrite the README's generated section
"""

from __future__ import annotations

import sys
from pathlib import Path

from biaslab.utils.options import tables, with_tables

ROOT = Path(__file__).resolve().parents[1]

if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        readme = ROOT / "README.md"
        readme.write_text(with_tables(readme.read_text(), ROOT / "conf"))
    else:
        print(tables(ROOT / "conf"))
