"""The one Jinja2 environment (templates/ at the project root, one folder per package) and `render`.

Every page is rendered in the request's language (`housing.i18n.negotiate`): the i18n
extension's gettext reads the catalog from the template context, so one environment
serves every language at once; the `money`, `day`, `month`, `moment` and `duration` filters format
with Babel in that language and the city's time zone. `csrf_token` is the signed token
every form posts back (asgi-csrf checks it).
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context

from housing import i18n
from housing.actors import Actor

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "static"


def request_language(request: Request, user_language: str | None = None) -> str:
    return i18n.negotiate(
        user_language,
        request.cookies.get(i18n.LANGUAGE_COOKIE),
        request.headers.get("accept-language"),
    )


def _page_context(request: Request) -> dict[str, Any]:
    make_token = request.scope.get("csrftoken")
    return {
        "csrf_token": make_token() if make_token else "",
        "languages": i18n.LANGUAGE_NAMES,
        "timezone": request.app.state.settings.timezone,
    }


@pass_context
def _gettext(context: Context, message: str) -> str:
    return context["translations"].gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return context["translations"].ngettext(singular, plural, n)


@pass_context
def _money(context: Context, minor: int, currency: str) -> str:
    return i18n.money(minor, currency, context["language"])


@pass_context
def _number(context: Context, value: Any, pattern: str | None = None) -> str:
    return i18n.number(value, context["language"], pattern)


@pass_context
def _day(context: Context, value: Any, form: str = "long") -> str:
    return i18n.day(value, context["language"], form)


@pass_context
def _month(context: Context, value: Any) -> str:
    return i18n.month(value, context["language"])


@pass_context
def _short_month(context: Context, value: Any) -> str:
    return i18n.short_month(value, context["language"])


@pass_context
def _moment(context: Context, value: Any) -> str:
    return i18n.moment(value, context["language"], context["timezone"])


@pass_context
def _duration(context: Context, value: Any) -> str:
    return i18n.duration(value, context["language"])


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=TEMPLATES_DIR, context_processors=[_page_context])
    env = templates.env
    env.autoescape = True
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        money=_money,
        number=_number,
        day=_day,
        month=_month,
        short_month=_short_month,
        moment=_moment,
        duration=_duration,
    )
    return templates


def render(
    request: Request,
    name: str,
    status_code: int = 200,
    *,
    actor: Actor | None = None,
    **context: Any,
) -> HTMLResponse:
    """The template in the language of the actor (None: a visitor), with the page context."""
    language = request_language(request, actor.language if actor else None)
    context |= {"actor": actor, "language": language, "translations": i18n.translations(language)}
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status_code)


def gettext_for(request: Request, actor: Actor | None = None) -> Callable[[str], str]:
    """The catalog's gettext for messages made in Python (form errors), in the page's language."""
    return i18n.translations(request_language(request, actor.language if actor else None)).gettext
