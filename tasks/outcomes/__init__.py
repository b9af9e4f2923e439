"""Outcomes of the people programs reach: linkage by person key, re-arrest vs a matched comparison
(risk ratios, Kaplan-Meier curves), treatment return and completion, the TEDS-D benchmark, and
small-cell suppression for analyst marts.

Every function here is pure (frames in, frames out). Inputs and most outputs are person-level:
they belong in restricted tables only; ``suppression`` and ``marts`` make the analyst-facing frames.
"""
