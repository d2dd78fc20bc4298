"""Integration tests share the API tests' small city (two companies, a user of every role)."""

from tests.api.conftest import city  # noqa: F401 - a fixture, found by name
from tests.integration import stripe_helpers

localstripe = stripe_helpers.localstripe  # a fixture, found by name
