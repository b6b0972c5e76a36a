"""Presentation: the figures (one module per family), the Markdown benchmark report and the HTML
report, drawn from the tidy tables. `registry` declares every figure once and imports nothing
heavy, so the workflow can read it when it is parsed."""
