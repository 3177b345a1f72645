"""HTML report: self-contained, escapes hostile cluster data, shows the same content as Markdown."""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser

from auditor.output import diff_results, render
from tests.output.sample import HOSTILE_ANNOTATION, HOSTILE_MESSAGE, HOSTILE_TITLE, STARTED, audit_result, findings


class Page(HTMLParser):
    """Collects what a browser would build: elements, attributes, visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v) for k, v in attrs]

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def report(*, include_pass: bool = False) -> str:
    fixed = findings()[0].model_copy(update={"rule_id": "OLD001", "message": "An old problem, now fixed."})
    previous = audit_result(
        findings=[*findings()[1:], fixed], started_at=STARTED - timedelta(days=1), status="complete"
    )
    current = audit_result(status="complete")
    return render(current, "html", diff=diff_results(previous, current), include_pass=include_pass)


def test_hostile_strings_are_escaped():
    html = report()
    page = parse(html)
    assert "script" not in page.tags
    assert "img" not in page.tags
    assert "<b>markup</b>" not in html
    assert not [a for a in page.attrs if a[1].startswith("on")]
    text = "".join(page.text)
    assert HOSTILE_MESSAGE in text  # shown literally
    assert HOSTILE_ANNOTATION in text
    assert ("td", "title", HOSTILE_TITLE) in page.attrs  # quotes in an attribute value stay inside it
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_self_contained_without_external_assets():
    html = report()
    page = parse(html)
    assert "link" not in page.tags and "script" not in page.tags and "iframe" not in page.tags
    assert not [a for a in page.attrs if a[1] in ("src", "href") and a[2]]
    assert not re.search(r"url\(|@import|https?://", html.split("</style>")[0], re.IGNORECASE)
    assert "style" in page.tags


def test_diff_section_shows_new_and_resolved():
    html = report()
    text = " ".join("".join(parse(html).text).split())
    assert "What changed since 2024-04-30 12:00 UTC" in text
    assert "1 new, 1 resolved, 4 still open." in text
    changes = html[html.index('id="changes"') : html.index('id="findings"')]
    assert "change-new" in changes and "EXP001" in changes
    assert "change-resolved" in changes and "An old problem, now fixed." in changes


def test_same_content_as_markdown():
    html = report(include_pass=True)
    text = " ".join("".join(parse(html).text).split())
    assert "Data missing: 1 collector(s) or rule(s) incomplete" in text
    assert "AccessDeniedException" in text
    for f in findings():
        assert f.rule_id in text
    assert "Set alb.ingress.kubernetes.io/inbound-cidrs: 10.0.0.0/8 on Ingress shop/web." in text
    assert "Could not be checked (1)" in text
    assert "$22.51" in text and "Known monthly cost: $40.91" in text
    assert "(orphan: owner-gone)" in text


def test_pass_hidden_by_default():
    assert "TLS003" not in render(audit_result(), "html")
