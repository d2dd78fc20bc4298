import pytest
from pydantic import ValidationError

from housing.settings import Settings


def test_default_secret_is_refused_outside_development(monkeypatch):
    monkeypatch.delenv("HOUSING_AUTH__SECRET_KEY", raising=False)
    for environment in ("production", "test"):
        with pytest.raises(ValidationError, match="HOUSING_AUTH__SECRET_KEY"):
            Settings(environment=environment)
    with pytest.raises(ValidationError, match="at least 32"):
        Settings(environment="production", auth={"secret_key": "short"})
    assert Settings(environment="development").environment == "development"


def test_settings_come_from_prefixed_nested_variables(monkeypatch):
    monkeypatch.setenv("HOUSING_ENVIRONMENT", "production")
    monkeypatch.setenv("HOUSING_AUTH__SECRET_KEY", "x" * 40)
    monkeypatch.setenv("HOUSING_DB__URL", "postgresql+psycopg://u@h/db")
    settings = Settings()
    assert settings.db.url == "postgresql+psycopg://u@h/db"
    assert settings.secure_cookies is True
    assert "x" * 40 not in repr(settings)
