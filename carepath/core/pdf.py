"""Printable documents (prescriptions, after-visit summaries) as PDF, drawn with fpdf2.
A document is a title, a few header lines and sections of paragraphs; callers never touch
fpdf2, so the look stays one and the library can change."""

from collections.abc import Sequence
from dataclasses import dataclass

from fpdf import FPDF


@dataclass(frozen=True)
class PdfSection:
    heading: str
    paragraphs: Sequence[str]


def _latin1(text: str) -> str:
    # The built-in PDF fonts cover Latin-1 only; we ship no font files, so other characters
    # are replaced rather than failing the download.
    return text.encode("latin-1", "replace").decode("latin-1")


def render_pdf(
    *, title: str, header_lines: Sequence[str], sections: Sequence[PdfSection], footer: str = ""
) -> bytes:
    pdf = FPDF(format="Letter")
    pdf.set_title(_latin1(title))
    pdf.set_creator("Carepath")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=16)
    pdf.multi_cell(0, 9, _latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    for line in header_lines:
        pdf.multi_cell(0, 5, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    for section in sections:
        pdf.ln(4)
        pdf.set_font("Helvetica", style="B", size=12)
        pdf.multi_cell(0, 7, _latin1(section.heading), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        for paragraph in section.paragraphs:
            pdf.multi_cell(0, 6, _latin1(paragraph), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
    if footer:
        pdf.ln(6)
        pdf.set_font("Helvetica", style="I", size=9)
        pdf.multi_cell(0, 5, _latin1(footer), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
