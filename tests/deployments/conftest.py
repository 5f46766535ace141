"""Deployment fixtures. The scheduling fixtures live with ccb's tests; the engine needs them too."""

from ..ccb.conftest import approve, windows  # noqa: F401 - fixtures, re-exported for these tests
