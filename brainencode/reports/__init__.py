"""Figures, brain maps and the self-contained HTML report."""
