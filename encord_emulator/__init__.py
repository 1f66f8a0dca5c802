"""A local Encord API that the real `encord` SDK talks to over HTTP (see encord_emulator/README.md).

Entry points: `encord_emulator.testing.run_emulator` (in-process), `encord_emulator.pytest_plugin` (fixtures)
and `runner-core emulator serve` (a process).
"""
