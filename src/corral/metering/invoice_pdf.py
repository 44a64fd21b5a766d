"""An invoice as PDF: the same lines and total as its CSV (`Invoice.rows`, `total_row`), laid
out as a one-table A4 page by fpdf2. fpdf is imported on the first PDF asked for, so a server
that never renders one never loads it.

The page is written uncompressed: an invoice is a few kilobytes either way, and its text stays
findable by any tool (and by the tests) without a PDF reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from corral.metering.usage import INVOICE_COLUMNS, Invoice

if TYPE_CHECKING:
    from fpdf import FPDF

_HEADERS = ("model", "tier", "requests", "input", "output", "in/1M", "out/1M", "amount")
_WIDTHS = (52, 22, 18, 20, 20, 16, 16, 26)  # millimetres; 190 in all, A4's width less margins
assert len(_HEADERS) == len(INVOICE_COLUMNS) == len(_WIDTHS)


def invoice_pdf(bill: Invoice) -> bytes:
    """The invoice `bill` as the bytes of a PDF document."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_compression(False)
    pdf.set_title(_text(f"Invoice {bill.tenant} {bill.month}"))
    pdf.set_creator("corral")
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=14)
    pdf.cell(0, 10, _text(f"Invoice: {bill.tenant}, {bill.month}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    note = f"Amounts in {bill.currency}; prices per million tokens."
    pdf.cell(0, 6, _text(note), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", style="B", size=9)
    _row(pdf, _HEADERS)
    pdf.set_font("Helvetica", size=9)
    for row in bill.rows():
        _row(pdf, row)
    pdf.set_font("Helvetica", style="B", size=9)
    _row(pdf, bill.total_row())
    return bytes(pdf.output())


def _row(pdf: FPDF, cells: Sequence[str]) -> None:
    for i, (text, width) in enumerate(zip(cells, _WIDTHS, strict=True)):
        align = "L" if i < 2 else "R"  # names left, numbers right-aligned so digits line up
        pdf.cell(width, 6, _text(text), border="B", align=align)
    pdf.ln()


def _text(value: str) -> str:
    """PDF's built-in fonts cover Latin-1 only: any other character (a tenant named in
    another script) prints as '?' rather than failing the whole invoice."""
    return value.encode("latin-1", "replace").decode("latin-1")
