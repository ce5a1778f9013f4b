"""The study layer, version 2 (issue 46): a preset's declaration, typed and checked once
(`spec`), and the protocol its words are decided by (`protocol`, pure functions).

A lower layer: it imports nothing from `biaslab.presets`, `biaslab.tuning` or
`biaslab.analysis` (the report and page code will read it, not the other way round). Nothing
is imported here, so reading a preset does not load scipy.
"""
