"""Rule administration: candidate rule files, rule test cases, semantic diffs, impact and static analysis.

The modules here are pure (a Ruleset and plain values in, plain values out) except `service`, which
stores versions, activates them and re-prices saved quotes through `cpq.store.rulesets`.
"""
