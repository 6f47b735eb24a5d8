"""Every alarm's runbook link (infra/monitoring.py) names a section of docs/operations.md."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _anchors(markdown: str) -> set[str]:
    headings = re.findall(r"^#{2,3} (.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^a-z0-9 -]", "", h.lower()).strip().replace(" ", "-") for h in headings}


def test_every_runbook_link_of_the_alarms_has_its_section():
    from infra.monitoring import BUSINESS_ALARMS

    source = (ROOT / "infra" / "monitoring.py").read_text()
    linked = set(re.findall(r"runbook\('([a-z0-9-]+)'\)", source)) | {a.section for a in BUSINESS_ALARMS}
    assert len(linked) >= 10
    missing = linked - _anchors((ROOT / "docs" / "operations.md").read_text())
    assert not missing, f"docs/operations.md has no section for {sorted(missing)}"


def test_importing_the_app_does_not_load_the_xray_sdk():
    # cold start (DESIGN §6, §9): the X-Ray SDK loads on a traced function's first invocation (Powertools'
    # package itself is imported by the Logger, which billow/usage/budgets.py builds at import)
    import subprocess
    import sys

    loaded = "[m for m in sys.modules if m.startswith('aws_xray_sdk')]"
    probe = f"import sys, app; print(sorted({loaded}))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
