"""The fonts shipped for PDFs (DejaVu Sans: Latin with the Uzbek letters, and Cyrillic), one home
for every document printed: meetings' protocols, buildings' quarterly reports."""

from pathlib import Path

FONTS = Path(__file__).resolve().parent
REGULAR = FONTS / "DejaVuSans.ttf"
BOLD = FONTS / "DejaVuSans-Bold.ttf"
