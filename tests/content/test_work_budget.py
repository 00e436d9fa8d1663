"""The work budget of one file: small crafted PDF and Office files stop early."""

from __future__ import annotations

import io
import random
from collections.abc import Callable

import pytest
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
)

import trustwatch.content.extract as extract_module
from trustwatch.content import extract_content
from trustwatch.content.budget import WorkBudget, WorkLimitReached
from trustwatch.content.pdf import MAX_PAGE_CONTENT_BYTES
from trustwatch.errors import ConfigError

from .builders import docx, pdf_with_link, pdf_with_text, xlsx, zip_of

_LINK = "https://docs.example/view"


def _pdf(pages: int, content: bytes, forms: dict[str, bytes] | None = None) -> bytes:
    """Return a PDF whose pages all draw one shared content stream in Helvetica."""
    writer = PdfWriter()
    stream = DecodedStreamObject()
    stream.set_data(content)
    shared = writer._add_object(stream)
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
    )
    xobjects = DictionaryObject()
    for name, form_content in (forms or {}).items():
        form = DecodedStreamObject()
        form.set_data(form_content)
        form[NameObject("/Type")] = NameObject("/XObject")
        form[NameObject("/Subtype")] = NameObject("/Form")
        form[NameObject("/BBox")] = _box()
        xobjects[NameObject(name)] = writer._add_object(form)
    for _ in range(pages):
        page = writer.add_blank_page(width=200, height=200)
        page[NameObject("/Contents")] = shared
        page[NameObject("/Resources")] = DictionaryObject(
            {
                NameObject("/Font"): DictionaryObject({NameObject("/F1"): font}),
                NameObject("/XObject"): xobjects,
            }
        )
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _box() -> ArrayObject:
    """Return the ``[0 0 200 200]`` box of a form."""
    return ArrayObject([NumberObject(0), NumberObject(0)] + [NumberObject(200)] * 2)


def _ticking(step: float) -> Callable[[], float]:
    """Return a clock that moves ``step`` seconds each time it is read."""
    now = [0.0]

    def clock() -> float:
        now[0] += step
        return now[0]

    return clock


def _with_clock(monkeypatch: pytest.MonkeyPatch, clock: Callable[[], float]) -> None:
    """Make :func:`extract_content` time its budget with ``clock``."""

    def budget(seconds: float, max_steps: int) -> WorkBudget:
        return WorkBudget(seconds, max_steps, clock=clock)

    monkeypatch.setattr(extract_module, "WorkBudget", budget)


def _empty_sheets(sheets: int, cells: int) -> bytes:
    """Return an xlsx of ``sheets`` sheets of ``cells`` empty cells each."""
    parts: dict[str, bytes | str] = {"[Content_Types].xml": "<Types/>"}
    for n in range(sheets):
        parts[f"xl/worksheets/sheet{n}.xml"] = (
            "<worksheet>" + "<c/>" * cells + "</worksheet>"
        )
    return zip_of(parts)


# --- the budget itself -------------------------------------------------------


def test_budget_stops_at_its_deadline_and_stays_spent() -> None:
    budget = WorkBudget(seconds=1.5, clock=_ticking(1.0))  # due at t=2.5
    budget.check()  # t=2
    with pytest.raises(WorkLimitReached, match=r"time budget of 1\.5 s spent"):
        budget.check()  # t=3
    assert budget.spent
    with pytest.raises(WorkLimitReached, match="time budget"):
        budget.step()


def test_budget_counts_steps_and_inflated_bytes() -> None:
    budget = WorkBudget(max_steps=3, max_inflated=10)
    budget.step(3)
    with pytest.raises(WorkLimitReached, match="step limit of 3 reached"):
        budget.step()
    assert budget.inflate(6)
    assert not budget.inflate(5)
    assert budget.inflated_left == 4


@pytest.mark.parametrize(
    "settings",
    [{"time_budget": 0.0}, {"time_budget": -1.0}, {"max_steps": -1}],
)
def test_bad_budget_settings_are_a_config_error(settings: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        extract_content(b"<html></html>", **settings)  # type: ignore[arg-type]


# --- PDF ---------------------------------------------------------------------


def test_shared_stream_of_empty_text_operators_is_not_parsed() -> None:
    # 20 pages share 600 KB of "() Tj": a few KB deflated, minutes of parsing
    data = _pdf(20, b"BT /F1 12 Tf 72 100 Td " + b"() Tj " * 100_000 + b"ET")
    result = extract_content(data)
    assert result.kind == "pdf"
    assert result.truncated
    assert result.errors[0] == (
        f"pdf_limit: page 1: over {MAX_PAGE_CONTENT_BYTES} bytes of content; "
        "its text was not read"
    )


def test_operators_past_the_step_limit_are_not_read() -> None:
    content = (
        b"BT /F1 12 Tf 72 100 Td " + b"() Tj " * 300 + b"(https://late.example/x) Tj ET"
    )
    result = extract_content(_pdf(20, content), max_steps=1_000)
    assert result.kind == "pdf"
    assert result.truncated
    assert result.errors == (
        "work_limit: step limit of 1000 reached; the rest of the file was not read",
    )
    # the first three pages were read in full: the URL was found there
    assert [u.url for u in result.urls] == ["https://late.example/x"]


def test_pdf_text_stops_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_clock(monkeypatch, _ticking(0.001))
    content = b"BT /F1 12 Tf 72 100 Td " + b"() Tj " * 2_000 + b"ET"
    result = extract_content(_pdf(5, content), time_budget=2.5)
    assert result.truncated
    assert result.errors == (
        "work_limit: time budget of 2.5 s spent; the rest of the file was not read",
    )


def test_a_tj_array_too_long_to_show_stops_reading() -> None:
    content = b"BT /F1 12 Tf 72 100 Td [" + b"() " * 5_000 + b"] TJ ET"
    result = extract_content(_pdf(1, content))
    assert result.truncated
    assert result.errors[0].startswith("work_limit: a TJ operator holds over")


def test_a_large_form_drawn_by_a_page_counts_as_its_content() -> None:
    form = b"BT /F1 12 Tf 10 10 Td " + b"() Tj " * 50_000 + b"ET"
    result = extract_content(_pdf(2, b"/X1 Do", {"/X1": form}))
    assert result.truncated
    assert [e.split(":")[0] for e in result.errors] == ["pdf_limit", "pdf_limit"]


def test_large_drawing_without_text_is_not_a_limit() -> None:
    drawing = b"0.5 w " + b"10 10 m 190 190 l S " * 20_000  # 400 KB, no text
    result = extract_content(_pdf(3, drawing))
    assert result.kind == "pdf"
    assert not result.truncated
    assert result.errors == ()


def test_ordinary_pdfs_are_read_whole() -> None:
    linked = extract_content(pdf_with_link(_LINK, pages=3))
    text = extract_content(pdf_with_text(f"Open {_LINK} today"))
    for result in (linked, text):
        assert not result.truncated
        assert result.errors == ()
        assert [u.url for u in result.urls] == [_LINK]


# --- Office ------------------------------------------------------------------


def test_many_small_sheets_of_empty_cells_are_refused_as_bombs() -> None:
    # 80 sheets of 100 KB of "<c/>" each deflate to a few hundred bytes
    result = extract_content(_empty_sheets(80, 25_000))
    assert result.kind == "xlsx"
    assert result.truncated
    assert len(result.errors) == 80
    assert all("looks like a zip bomb" in error for error in result.errors)


def test_xml_elements_past_the_step_limit_are_not_read() -> None:
    rng = random.Random(7)
    cells = "".join(f'<c r="{rng.randrange(10**9)}"/>' for _ in range(8_000))
    parts: dict[str, bytes | str] = {"[Content_Types].xml": "<Types/>"}
    for n in range(5):
        parts[f"xl/worksheets/sheet{n}.xml"] = f"<worksheet>{cells}</worksheet>"
    result = extract_content(zip_of(parts), max_steps=500)  # 32,000 of 40,000
    assert result.kind == "xlsx"
    assert result.truncated
    assert result.errors == (
        "work_limit: step limit of 500 reached; the rest of the file was not read",
    )


def test_office_parts_stop_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_clock(monkeypatch, _ticking(1.0))
    result = extract_content(
        docx("<w:p/>", [("rId1", "hyperlink", _LINK, True)]), time_budget=1.5
    )
    assert result.kind == "docx"
    assert result.truncated
    assert result.errors[-1].startswith("work_limit: time budget of 1.5 s spent")


def test_ordinary_office_files_are_read_whole() -> None:
    document = extract_content(docx("<w:p/>", [("rId1", "hyperlink", _LINK, True)]))
    sheet = extract_content(xlsx([f"see {_LINK}"], []))
    for result in (document, sheet):
        assert not result.truncated
        assert result.errors == ()
        assert [u.url for u in result.urls] == [_LINK]
