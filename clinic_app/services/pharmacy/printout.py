"""The prescription as a PDF (fpdf2): clinic header, prescriber, patient, date in the clinic's
format, the lines in plain language, a signature line. The same content as the print page.

Names are Unicode ("Mateo Álvarez", "Seo-jun Kim", "Łukasz"): with DejaVu Sans (Debian's
fonts-dejavu-core, present on our images) every such name prints as written; without it the PDF
falls back to the core Helvetica font, which only covers latin-1, and any other character is
transliterated (accents dropped, "?" as a last resort) rather than failing.
"""
import unicodedata
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from ... import clock
from ...localtime import local_date
from .prescribing import line_name, line_quantity_text, line_text

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}


def _latin1(text):
    """`text` in latin-1 for the core fonts: kept where it fits, else without its accents, else '?'."""
    out = []
    for ch in str(text or ""):
        try:
            ch.encode("latin-1")
            out.append(ch)
        except UnicodeEncodeError:
            # A few look-alikes NFKD does not decompose; dashes and quotes are common in names and notes.
            ch = {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ø": "O", "ø": "o", "ß": "ss", "–": "-", "—": "-",
                  "‘": "'", "’": "'", "“": '"', "”": '"', "…": "...", "×": "x"}.get(ch, ch)
            plain = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode("latin-1")
            plain = "".join(c for c in plain if not unicodedata.combining(c))
            out.append(plain or "?")
    return "".join(out)


class _Document(FPDF):
    def __init__(self, font_dir):
        super().__init__(format="A4")
        self.set_margins(20, 18, 20)
        self.set_auto_page_break(True, margin=20)
        paths = {style: Path(font_dir) / name for style, name in FONTS.items()}
        self.unicode = all(p.is_file() for p in paths.values())
        if self.unicode:
            for style, path in paths.items():
                self.add_font("DejaVu", style, str(path))
        self.family = "DejaVu" if self.unicode else "Helvetica"

    def text_of(self, value):
        return str(value or "") if self.unicode else _latin1(value)

    def write_line(self, text, size=11, style="", gap=1.5):
        self.set_font(self.family, style, size)
        self.multi_cell(0, size * 0.5, self.text_of(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
        self.ln(gap)

    def fact(self, label, value):
        self.set_font(self.family, "B", 10)
        self.cell(32, 6, self.text_of(label), new_x=XPos.RIGHT, new_y=YPos.TOP)
        self.set_font(self.family, "", 10)
        self.multi_cell(0, 6, self.text_of(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")


def prescription_pdf(rx, settings, font_dir=FONT_DIR):
    """The PDF of prescription `rx` (patient and prescriber loaded) as bytes."""
    pdf = _Document(font_dir)
    pdf.set_title(pdf.text_of(f"Prescription - {rx.patient.full_name}"))
    pdf.set_creator("clinic_app")
    pdf.set_creation_date(clock.now())
    pdf.add_page()
    pdf.write_line(settings.clinic_name, 16, "B", gap=0.5)
    contact = " · ".join(p for p in ((settings.address or "").replace("\n", ", "),
                                      f"Tel. {settings.phone}" if settings.phone else "") if p)
    if contact:
        pdf.write_line(contact, 9)
    pdf.line(pdf.l_margin, pdf.get_y() + 1, pdf.w - pdf.r_margin, pdf.get_y() + 1)
    pdf.ln(5)
    if rx.status == "cancelled":
        pdf.write_line(f"CANCELLED — {rx.cancel_reason or ''}".strip(" —"), 12, "B", gap=3)
    elif rx.status == "draft":
        pdf.write_line("DRAFT — not issued, not valid for dispensing", 12, "B", gap=3)
    patient = rx.patient
    who = f"{patient.full_name} ({patient.record_number})"
    if patient.date_of_birth:
        who += f", born {local_date(patient.date_of_birth)}"
    pdf.fact("Date", local_date(rx.issued_at or rx.created_at))
    pdf.fact("Patient", who)
    if patient.allergies:
        pdf.fact("Allergies", "; ".join(str(a) for a in patient.allergies))
    pdf.fact("Prescriber", rx.prescriber.name)
    pdf.ln(4)
    pdf.write_line("Rx", 14, "B", gap=2)
    for n, ln in enumerate(rx.lines, 1):
        head = f"{n}. {line_name(ln)}"
        supply = line_quantity_text(ln)
        if supply:
            head += f" — supply {supply}"
        if ln.refills:
            head += f", {ln.refills} refill{'s' if ln.refills != 1 else ''}"
        pdf.write_line(head, 11, "B", gap=0.5)
        directions = " ".join(p for p in (line_text(ln), ln.instructions or "") if p)
        if directions:
            pdf.set_x(pdf.l_margin + 5)
            pdf.write_line(directions, 10, gap=3)
    pdf.ln(18)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + 75, pdf.get_y())
    pdf.ln(2)
    pdf.write_line(rx.prescriber.name, 10)
    return bytes(pdf.output())
