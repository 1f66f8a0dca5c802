"""Agents written as encord-agents' documentation writes them; only the imports name runner-core.

Each module binds a `QueueRunner` to the project of the runner tests' seed (tests/integration/runners/rc_env.py):
stages `pre-label` (pathways `annotate`, `skip`) and `second-look` (`accept`, `redo`), and a `brightness` radio
classification (`bright`, `dark`). Run one against any project with that shape by changing its project hash.
"""
