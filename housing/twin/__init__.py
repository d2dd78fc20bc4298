"""The digital twin: every building's live state on one page and the city's buildings on a map.

A read model over all three packages (registry, requests, incidents, meetings and money
from `housing`; alerts and temperatures from `sensors`; debts from `billing`), so it sits
beside the composition root: nothing but the app, the CLI, the scheduler and the demo
imports it. The building grade and its components: docs/digital-twin.md.
"""
