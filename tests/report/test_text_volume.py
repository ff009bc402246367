"""Volume: the text report groups findings per rule (top few, "N more", full remediation)."""

from __future__ import annotations

from mlgate.findings import Severity
from mlgate.report.text import TextFormat

from .test_reports import finding, make_report

LONG = (
    "This downloads a model from the Hugging Face Hub without pinning `revision` to a commit "
    "SHA: a later push to the repository changes what you load. Pin revision='<40-hex sha>'."
)


def test_rule_groups_show_counts_top_places_and_the_full_remediation() -> None:
    items = [
        finding("ml-hf-download-unpinned", Severity.MEDIUM, path=f"m{i}.py", line=i, message=LONG)
        for i in range(1, 8)
    ]
    items.append(finding("B602", Severity.HIGH, path="run.py", line=3, message="shell", fix="x"))
    text = TextFormat().render(make_report(items))
    assert "ml-hf-download-unpinned  (7 findings)" in text
    assert "m1.py:1, m2.py:2, m3.py:3 and 4 more" in text
    assert "m4.py:4" not in text  # counted, not listed (everything is in json/SARIF)
    flat = " ".join(text.split())
    assert "Pin revision='<40-hex sha>'." in flat  # the remediation is shown whole, not cut
    assert "…" not in text
    assert text.index("B602") < text.index("ml-hf-download-unpinned")  # worst first
    assert "fix: x" in text


def test_distinct_messages_list_each_of_the_first_few() -> None:
    items = [
        finding("PYSEC-1", Severity.HIGH, path="requirements.txt", line=i, message=f"pkg{i} bad")
        for i in range(1, 6)
    ]
    text = TextFormat().render(make_report(items))
    assert "requirements.txt:1: pkg1 bad" in text and "requirements.txt:3: pkg3 bad" in text
    assert "pkg4 bad" not in text and "... and 2 more (see the json report)" in text
