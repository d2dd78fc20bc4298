"""The README and .env.example document every setting the code reads."""

from pathlib import Path

from pydantic import BaseModel

from housing.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _variables(model: type[BaseModel], prefix: str) -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += _variables(annotation, f"{prefix}{name.upper()}__")
        else:
            names.append(f"{prefix}{name.upper()}")
    return names


def test_every_setting_is_documented():
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / ".env.example").read_text()
    variables = _variables(Settings, "HOUSING_")
    assert "HOUSING_DB__URL" in variables
    assert [v for v in variables if f"`{v}`" not in readme] == []
    assert [v for v in variables if v not in example] == []
