"""Judging the paper's claims on a sweep's results table: the fits (fits.py), the decision
rules of one fit (verdicts.py), the clocks a claim is judged at (views.py), rule
families and the learnability map (rule_families.py, learnability.py), what a verdict rests on
(learned.py), and every claim's verdict (evaluate.py)."""
