"""Old name of :mod:`archcalc.language`, kept importable for one release."""
