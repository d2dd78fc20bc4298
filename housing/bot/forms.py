"""The bot's two forms: a meter reading and a request with a photo, each a few taps and one reply.

Nothing is kept between updates (several web processes may answer a webhook): a button's
callback data says what was chosen, and the prompt the user replies to ends with a tag
(`[m12]`: meter 12; `[ra5.3]`: apartment 5, category 3), read back from the bot's own
message that Telegram sends with the reply. Every choice is checked again against what the
user may see when it comes back.
"""

import re
from datetime import UTC
from decimal import Decimal

from telebot import types

from housing.bot import resident
from housing.bot.turn import Turn, residents_only
from housing.errors import DomainError, Invalid
from housing.requests import service as requests
from housing.requests.page_parts import DESCRIPTION_MAX, DESCRIPTION_MIN, category_choices
from housing.requests.photos import inspect_photo
from housing.validation import check_text
from sensors.meters import service as meters

METER_TAG = re.compile(r"\[m(\d{1,12})\]\s*$")
REQUEST_TAG = re.compile(r"\[r([ab]\d{1,12})\.(\d{1,12})\]\s*$")
PLACE_KEY = re.compile(r"[ab]\d{1,12}")
READING = re.compile(r"[0-9]{1,11}(?:[.,][0-9]{1,3})?")  # the register: numeric(14, 3)
CHOSEN = re.compile(r"([ab]\d{1,12})\.(\d{1,12})")


def _window(turn: Turn) -> tuple[int, int]:
    return (turn.settings.meters.window_start_day, turn.settings.meters.window_end_day)


def _window_closed(turn: Turn) -> str | None:
    start, end = _window(turn)
    if meters.in_window(turn.today.day, start, end):
        return None
    return turn.gettext("Readings are accepted from day %(start)s to day %(end)s of each month.") % {
        "start": start,
        "end": end,
    }


def reading(turn: Turn, message: types.Message) -> None:
    """`/reading`: a button per meter read by hand, while the window is open."""
    residents_only(turn)
    assert turn.actor is not None
    _ = turn.gettext
    if closed := _window_closed(turn):
        turn.say(closed)
        return
    found = resident.readable_meters(turn.session, turn.actor, turn.today)
    if not found:
        turn.say(_("None of your meters is read by hand: they send their readings by themselves."))
        return
    markup = types.InlineKeyboardMarkup()
    for meter in found:
        markup.add(
            types.InlineKeyboardButton(f"{meter.serial} ({meter.unit})", callback_data=f"meter:{meter.id}")
        )
    turn.say(_("Which meter?"), markup)


def ask_reading(turn: Turn, meter_id: int) -> None:
    residents_only(turn)
    assert turn.actor is not None
    meter = resident.readable_meter(turn.session, turn.actor, turn.today, meter_id)
    if meter is None:
        return
    prompt = turn.gettext("Meter %(serial)s: reply to this message with the number it shows.") % {
        "serial": meter.serial
    }
    turn.say(f"{prompt} [m{meter.id}]", types.ForceReply(input_field_placeholder="1234.567"))


def parse_reading(text: str) -> Decimal | None:
    """A number as typed on a phone (a comma or a point before the decimals, spaces between
    digits) that a meter's register holds: at most 11 digits, then at most 3 decimals."""
    cleaned = "".join(text.split())
    if not READING.fullmatch(cleaned):
        return None
    return Decimal(cleaned.replace(",", "."))


def submit_reading(turn: Turn, meter_id: int, text: str) -> None:
    """The reply to a meter's prompt: the same service and rules as the meters page."""
    residents_only(turn)
    assert turn.actor is not None
    _ = turn.gettext
    meter = resident.readable_meter(turn.session, turn.actor, turn.today, meter_id)
    if meter is None:
        turn.say(_("This meter is not one of yours any more."))
        return
    value = parse_reading(text)
    if value is None:
        turn.say(_("Enter the number the meter shows, for example 1234,567."))
        return
    if closed := _window_closed(turn):
        turn.say(closed)
        return
    meters.submit_reading(
        turn.session,
        meter,
        value=value,
        now=turn.now.astimezone(UTC),
        timezone=turn.settings.timezone,
        by_resident=True,
        window=_window(turn),
    )
    turn.say(_("Saved: %(value)s %(unit)s on meter %(serial)s.") % {"value": value, "unit": meter.unit, "serial": meter.serial})  # fmt: skip


def request(turn: Turn, message: types.Message) -> None:
    """`/request`: where (each home, or its building), then what about, then the description."""
    residents_only(turn)
    assert turn.actor is not None
    markup = types.InlineKeyboardMarkup()
    for place in resident.places(turn.session, turn.actor, turn.today):
        label = place.label if place.apartment_id else turn.gettext("%(address)s: common areas") % {"address": place.label}  # fmt: skip
        markup.add(types.InlineKeyboardButton(label[:60], callback_data=f"place:{place.key}"))
    if not markup.keyboard:
        turn.say(turn.gettext("No apartment is registered to you today."))
        return
    turn.say(turn.gettext("Where is the problem?"), markup)


def choose_category(turn: Turn, key: str) -> None:
    residents_only(turn)
    assert turn.actor is not None
    if resident.place(turn.session, turn.actor, turn.today, key) is None:
        return
    markup = types.InlineKeyboardMarkup()
    for category in category_choices(turn.session, turn.actor):
        markup.add(types.InlineKeyboardButton(category.name[:60], callback_data=f"cat:{key}.{category.id}"))
    turn.say(turn.gettext("What is it about?"), markup)


def ask_description(turn: Turn, key: str, category_id: int) -> None:
    residents_only(turn)
    prompt = turn.gettext(
        "Describe the problem in a reply to this message. To add a photo, send the photo with the "
        "description as its caption."
    )
    turn.say(f"{prompt} [r{key}.{category_id}]", types.ForceReply())


def file_request(turn: Turn, key: str, category_id: int, message: types.Message) -> None:
    """The reply to a request's prompt: filed by the requests service, the photo checked as on the page."""
    residents_only(turn)
    assert turn.actor is not None
    _ = turn.gettext
    where = resident.place(turn.session, turn.actor, turn.today, key)
    category = next((c for c in category_choices(turn.session, turn.actor) if c.id == category_id), None)
    if where is None or category is None:
        turn.say(_("This choice is no longer available; send /request to start again."))
        return
    attached = bool(message.photo or message.document)
    description = " ".join(((message.caption if attached else message.text) or "").split())
    if not DESCRIPTION_MIN <= len(description) <= DESCRIPTION_MAX:
        turn.say(_("Describe the problem in %(min)s to %(max)s characters.") % {"min": DESCRIPTION_MIN, "max": DESCRIPTION_MAX})  # fmt: skip
        return
    try:
        check_text(description)
    except ValueError:
        turn.say(_("The description contains control characters that cannot be stored; type it again."))
        return
    photo = _photo(turn, message) if attached else b""
    settings = turn.settings.requests
    filed = requests.file_request(
        turn.session,
        filed_by_id=turn.actor.user_id,
        requester_person_id=turn.actor.person_id,
        building_id=where.building_id,
        apartment_id=where.apartment_id,
        category_id=category.id,
        description=description,
        emergency=None,
        now=turn.now,
        timezone=turn.settings.timezone,
        daily_limit=settings.daily_limit,
        emergency_deadline=settings.emergency_deadline,
    )
    if photo:
        requests.attach_photo(
            turn.session,
            filed,
            data=photo,
            uploaded_by_id=turn.actor.user_id,
            photo_dir=settings.photo_dir,
            max_bytes=settings.max_photo_bytes,
            max_photos=settings.max_photos,
        )
    site = turn.settings.notify.site_url.rstrip("/")
    turn.say(
        _(
            "Request No. %(number)s is filed. I will tell you here when its status changes; /requests shows it."
        )
        % {"number": filed.id}
        + f"\n{site}/requests/{filed.id}"
    )


def _photo(turn: Turn, message: types.Message) -> bytes:
    """The largest size Telegram offers within the limit (or the picture sent as a file),
    downloaded and checked by its content."""
    limit = turn.settings.requests.max_photo_bytes
    refused = turn.gettext("The photo must be a JPEG, PNG or WebP picture of at most %(size)s MB.") % {
        "size": limit // (1024 * 1024)
    }
    offered = [(p.file_id, p.file_size, (p.width or 0) * (p.height or 0)) for p in message.photo or []]
    if message.document is not None:
        offered.append((message.document.file_id, message.document.file_size, 0))
    fitting = [(area, file_id) for file_id, size, area in offered if size is not None and size <= limit]
    if not fitting:
        raise Invalid(refused)
    _, file_id = max(fitting)
    data = turn.bot.download_file(turn.bot.get_file(file_id).file_path)
    try:
        inspect_photo(data, max_bytes=limit)
    except DomainError as exc:
        raise Invalid(refused) from exc
    return data
