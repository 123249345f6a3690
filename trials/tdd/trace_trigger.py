"""trigger.py with OpenTelemetry's SDK on: the web side's spans go to ``TDD_WEB_SPANS``.

Run as trigger.py is run (see trials/README.md, "Traces on tdd"), with the worker importing
``bgmigrate.testing.tracing_setup`` and ``BGMIGRATE_TEST_SPANS`` naming its own span file.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

from bgmigrate.testing.span_files import export_spans_to

export_spans_to(Path(os.environ["TDD_WEB_SPANS"]))
runpy.run_path(str(Path(__file__).with_name("trigger.py")), run_name="__main__")
