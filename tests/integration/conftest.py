"""Integration tests share the API tests' small city (two companies, a user of every role)."""

from tests.api.conftest import city  # noqa: F401 - a fixture, found by name
from tests.integration import stripe_helpers
from tests.integration.private_broker import private_broker  # noqa: F401 - a fixture, found by name

localstripe = stripe_helpers.localstripe  # a fixture, found by name
