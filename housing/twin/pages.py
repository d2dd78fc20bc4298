"""The building view (`GET /buildings/{id}`) and its live stream (`GET /buildings/{id}/live`).

The page is whole without JavaScript: the state as read, when it was read, and a refresh
link. static/twin.js opens the stream and swaps in each update of the live fragment
(templates/twin/live.html), which the hub renders once per audience and language.
"""

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from billing.models import DEFAULT_CURRENCY
from housing import i18n
from housing.auth import CurrentActor
from housing.db import SessionDep
from housing.deps import Now, SettingsDep
from housing.registry.models import Building
from housing.settings import Settings
from housing.twin import live
from housing.twin.access import SeenBuilding
from housing.twin.building import BuildingState, HourlyCache, Viewer, building_state
from housing.validation import Text
from housing.web import render, request_language

router = APIRouter(include_in_schema=False)

FRAGMENT = "twin/live.html"
STREAM_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx: pass each event on at once
}


def fragment_context(state: BuildingState) -> dict:
    return {"state": state, "currency": DEFAULT_CURRENCY, "live_url": f"/buildings/{state.building_id}/live"}


@router.get("/buildings/{building_id}", response_class=HTMLResponse)
def building_view(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: CurrentActor,
    seen: SeenBuilding,
    now: Now,
) -> Response:
    state = building_state(session, seen.building, seen.viewer, settings, now, request.app.state.twin_hours)
    return render(request, "twin/building.html", actor=actor, **fragment_context(state))


# The one async route of the app: a stream stays open as long as the page does, and 200 open
# views must not hold 200 threadpool threads. It awaits its queue only; access was checked by
# the (sync) dependencies before it starts, and the hub's thread does the database reads.
@router.get("/buildings/{building_id}/live")
async def building_live(
    request: Request,
    actor: CurrentActor,
    seen: SeenBuilding,
    last_event_id: Annotated[Text | None, Header(max_length=64)] = None,
) -> StreamingResponse:
    hub: live.LiveHub = request.app.state.live
    language = request_language(request, actor.language)
    subscription = hub.subscribe(seen.building.id, seen.viewer.audience, language, last_event_id)
    return StreamingResponse(
        live.stream(hub, subscription, hub.keep_alive), media_type="text/event-stream", headers=STREAM_HEADERS
    )


def fragment_renderer(templates: Jinja2Templates, settings: Settings, cache: HourlyCache) -> live.Renderer:
    """How the hub renders the live fragment: the state of one audience in one language."""
    template = templates.env.get_template(FRAGMENT)

    def render_fragment(session: Session, building_id: int, audience: str, language: str) -> str | None:
        building = session.get(Building, building_id)
        if building is None:
            return None
        state = building_state(session, building, Viewer(full=audience == "full"), settings, cache=cache)
        return template.render(
            fragment_context(state),
            language=language,
            translations=i18n.translations(language),
            timezone=settings.timezone,
        )

    return render_fragment


def install(app_state, settings: Settings) -> None:
    """The process's chart cache (`twin_hours`) and live hub (`live`) on the app's state."""
    app_state.twin_hours = HourlyCache()
    app_state.live = live.LiveHub(
        app_state.engine,
        fragment_renderer(app_state.templates, settings, app_state.twin_hours),
        interval=settings.twin.live_seconds,
        max_streams=settings.twin.live_streams,
        timezone=settings.timezone,
    )
