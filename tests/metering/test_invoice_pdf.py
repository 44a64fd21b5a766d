"""An invoice as PDF: the CSV's lines on a page, for any tenant name, without loading fpdf
into a server that never renders one."""

from __future__ import annotations

import subprocess
import sys

from corral.metering.invoice_pdf import invoice_pdf
from corral.metering.usage import Invoice, InvoiceLine
from tests.support import pdf_strings


def test_a_name_outside_latin1_prints_with_question_marks_not_an_error() -> None:
    line = InvoiceLine("echo", "open", 2_000_000, 4_000_000, 3, 100, 20, 280)
    shown = pdf_strings(invoice_pdf(Invoice("Zoë Ωmega", "2026-11", "EUR", [line])))

    assert shown[0] == "Invoice: Zoë ?mega, 2026-11"
    assert "Amounts in EUR; prices per million tokens." in shown
    assert shown[-6:] == ["0.000280", "total", "3", "100", "20", "0.000280"]


def test_the_server_loads_fpdf_only_when_a_pdf_is_asked_for() -> None:
    code = (
        "import sys, corral.api.app, corral.cli; "
        "assert 'corral.api.console.usage' in sys.modules, 'console not imported'; "
        "print('fpdf' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert run.stdout.strip() == "False"
