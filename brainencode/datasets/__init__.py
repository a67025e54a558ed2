"""Stimuli and neural responses in, canonical on-disk formats out (see DESIGN.md contracts)."""
