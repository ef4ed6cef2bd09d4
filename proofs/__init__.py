"""Numerical proof companions: Table 1 transcribed, and the claims ledger."""
