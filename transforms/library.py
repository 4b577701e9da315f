"""The built-in transforms. Each is a pure function of one value; keyword-only parameters are its YAML `args`."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Annotated, Any, Literal

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES, EMAIL_MAX_LENGTH, LOCAL_PART_MAX_LENGTH
from pydantic import AfterValidator, PositiveInt

from deskmigrate.transforms import coercion, html
from deskmigrate.transforms.coercion import quote
from deskmigrate.transforms.regions import region_from_hints
from deskmigrate.transforms.registry import TransformContext, ValueRejected, register


def _known_region(region: str | None) -> str | None:
    if region is None:
        return None
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown region {region!r}: use a two-letter country code such as US, GB, DE")
    return code


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueRejected("not text", quote(value))


def _each(value: Any, convert: Callable[[Any], Any]) -> Any:
    """Apply a per-item conversion to a list element-wise (tags, split results), or to a single value."""
    if isinstance(value, list):
        return [convert(item) for item in value if item is not None]
    return convert(value)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


@register("lowercase")
def lowercase(value: Any) -> Any:
    """Lower-case text (each item of a list)."""
    return _each(value, lambda item: _text(item).lower())


@register("uppercase")
def uppercase(value: Any) -> Any:
    """Upper-case text (each item of a list)."""
    return _each(value, lambda item: _text(item).upper())


@register("strip")
def strip(value: Any) -> Any:
    """Remove leading and trailing whitespace (each item of a list)."""
    return _each(value, lambda item: _text(item).strip())


@register("prefix")
def prefix(value: Any, *, prefix: str) -> Any:
    """Put `prefix` in front of the value, e.g. source ids "123" → "zd:123" (each item of a list)."""
    return _each(value, lambda item: prefix + _text(item))


@register("unix_time")
def unix_time(
    value: Any, *, date_format: str | None = None, format: str | None = None, dayfirst: bool | None = None, ctx: TransformContext
) -> int:
    """Unix seconds from a datetime, a date, epoch seconds/milliseconds or date text (ISO 8601, RFC 2822, 20210304,
    "4 March 2021", 03/04/2021 in the order the column shows, else `dayfirst`); `date_format` (strptime, alias `format`) for anything else."""
    return int(ctx.read_time(value, dayfirst=dayfirst, date_format=date_format or format).moment.timestamp())


@register("join")
def join(value: Any, *, sep: str = ", ") -> str:
    """Join a list into one text with `sep`, skipping empty items; a single value is kept as text."""
    if isinstance(value, list):
        return sep.join(coercion.as_text(item) for item in value if not _is_empty(item))
    return coercion.as_text(value)


@register("split")
def split(value: Any, *, sep: str = ",") -> list[str]:
    """Split text on `sep` into a list of trimmed, non-empty items; a list is kept."""
    if isinstance(value, list):
        return value
    return [part.strip() for part in _text(value).split(sep) if part.strip()]


@register("html_to_text")
def html_to_text(value: Any, *, ctx: TransformContext) -> str:
    """Plain text from HTML, keeping line breaks, list items and link URLs ("text (url)")."""
    text = _text(value)
    if html.tag_names(text):
        ctx.content_dropped("html stripped")
    return html.html_to_text(text)


@register("sanitize_html")
def sanitize_html(value: Any, *, profile: Literal["article", "conversation", "basic"] = "article", ctx: TransformContext) -> str:
    """Keep only the HTML Intercom accepts for `profile` (article | conversation | basic); scripts and styles go with their content."""
    cleaned, removed = html.sanitize(_text(value), profile)
    if removed:
        ctx.content_dropped("html tags removed", removed)
    return cleaned


@register("sanitize_translations")
def sanitize_translations(value: Any, *, profile: Literal["article", "conversation", "basic"] = "article", ctx: TransformContext) -> dict[str, Any]:
    """An article's translations as {locale: {title, body, state}}, each body sanitised like `sanitize_html`."""
    translated: dict[str, Any] = {}
    for item in value if isinstance(value, list) else [value]:
        data = item.model_dump() if hasattr(item, "model_dump") else item
        if not isinstance(data, dict) or not data.get("locale"):
            raise ValueRejected("not a translation", quote(item))
        cleaned, removed = html.sanitize(_text(data.get("body_html") or ""), profile)
        if removed:
            ctx.content_dropped("html tags removed", removed)
        translated[str(data["locale"])] = {"title": _text(data.get("title") or ""), "body": cleaned, "state": data.get("state") or "published"}
    return translated


@register("rename")
def rename(value: Any, *, map: str, ctx: TransformContext) -> Any:
    """The value map's entry for the value when it has one, else the value unchanged (rename a few categories, keep the rest)."""
    found, mapped = ctx.value_maps[map].lookup(value)
    return mapped if found else value


@register("look_up")
def look_up(value: Any, *, map: str, ctx: TransformContext) -> Any:
    """The value map's entry for the value, or nothing; a miss is not reported (for maps that list only the exceptions)."""
    found, mapped = ctx.value_maps[map].lookup(value)
    return mapped if found else None


@register("date_text")
def date_text(
    value: Any, *, template: str = "Originally published on {date}.", format: str = "%B %d, %Y", ctx: TransformContext
) -> str:
    """A date as a sentence, e.g. for an article footer: `template` with {date} replaced by the date in strftime `format`."""
    return template.replace("{date}", ctx.read_time(value).moment.strftime(format))


@register("map_value")
def map_value(value: Any, *, map: str, ctx: TransformContext) -> Any:
    """Look the value up in the value map `map` (each item of a list); a miss gives the map's default or nothing."""
    table = ctx.value_maps[map]

    def look_up(item: Any) -> Any:
        found, mapped = table.lookup(item)
        if not found:
            ctx.value_map_miss(map, item)
        return mapped

    if isinstance(value, list):
        return [mapped for item in value if (mapped := look_up(item)) is not None]
    return look_up(value)


@register("to_int")
def to_int(value: Any) -> int:
    """A whole number from a number or text ("3", "3.0"); anything that would need rounding is rejected."""
    return coercion.as_int(value)


@register("to_float")
def to_float(value: Any) -> float:
    """A finite decimal number from a number or text."""
    return coercion.as_float(value)


@register("to_bool")
def to_bool(value: Any) -> bool:
    """True/false from booleans, 0/1 and the words true/false, yes/no, y/n, on/off."""
    return coercion.as_bool(value)


@register("email")
def email(value: Any) -> str:
    """A valid email address, normalised (domain lower-cased, Unicode NFC); an invalid one rejects the record."""
    address = _text(value).strip()
    plain = _plain_address(address)
    if plain is not None:
        return plain
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueRejected("invalid email address", f"{quote(address)}: {str(exc).rstrip('.')}") from None


# An unquoted ASCII local part (RFC 5322 dot-atom), which email_validator accepts as written.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_NOT_IN_PLAIN_DOMAIN = re.compile(r"[\s\"<>()\[\]\\,;:]")
_PROBE_LOCAL = "a"


def _plain_address(address: str) -> str | None:
    """email_validator's normalised form of an everyday address (ASCII dot-atom local part), with its domain's verdict
    cached: validating the domain is most of the cost, and a real export has few domains. None: take the full path
    (Unicode, quotes, display names, anything invalid), which also words the error."""
    local, at, domain = address.partition("@")
    if not at or not address.isascii() or "@" in domain or len(local) > LOCAL_PART_MAX_LENGTH or len(address) > EMAIL_MAX_LENGTH:
        return None
    if _NOT_IN_PLAIN_DOMAIN.search(domain) or not _DOT_ATOM.fullmatch(local):
        return None
    domains = _valid_domain(domain)
    if domains is None:
        return None
    normalized_domain, ascii_domain = domains
    if local.lower() in CASE_INSENSITIVE_MAILBOX_NAMES:
        local = local.lower()
    normalized = f"{local}@{normalized_domain}"
    if len(normalized) > EMAIL_MAX_LENGTH or len(local) + 1 + len(ascii_domain) > EMAIL_MAX_LENGTH:
        return None
    return normalized


@lru_cache(maxsize=65536)
def _valid_domain(domain: str) -> tuple[str, str] | None:
    """(normalised, ASCII) form of a domain email_validator accepts after a plain local part; None when it refuses it."""
    try:
        checked = validate_email(f"{_PROBE_LOCAL}@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return None
    return checked.domain, checked.ascii_domain


@register("phone")
def phone(value: Any, *, default_region: Annotated[str | None, AfterValidator(_known_region)] = None, ctx: TransformContext) -> str:
    """A phone number in E.164 (+14155550123, extension kept: "+14155550123 ext. 12"); numbers without +country are
    read in `default_region`, else the record's country/locale/time zone, else the config's defaults.phone_region."""
    number_text = _text(value).strip()
    hints = ctx.hints
    region = default_region or region_from_hints(hints.country, hints.locale, hints.time_zone) or ctx.phone_region
    if ctx.memo is None:
        return _e164(number_text, region)
    # Validating a number is most of a plan's mapping time; its verdict depends on the text and region alone.
    key = f"{PHONE_MEMO}\x1f{region or ''}\x1f{number_text}"
    known = ctx.memo.recall(key)
    if known is not None:
        accepted, text = known
        if accepted:
            return text
        raise ValueRejected(INVALID_PHONE, text)
    try:
        e164 = _e164(number_text, region)
    except ValueRejected as exc:
        ctx.memo.remember(key, False, exc.detail or "")
        raise
    ctx.memo.remember(key, True, e164)
    return e164


INVALID_PHONE = "invalid phone number"
# Remembered verdicts hold while this code and phonenumbers' metadata are the same.
PHONE_MEMO = f"phone/1/{phonenumbers.__version__}"


def _e164(number_text: str, region: str | None) -> str:
    try:
        number = phonenumbers.parse(number_text, region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE and region is None:
            why = "no +country code, and neither the rule (default_region), the record nor defaults.phone_region gives a country"
        else:
            why = str(exc._msg).rstrip(".")
        raise ValueRejected(INVALID_PHONE, f"{quote(number_text)}: {why}") from None
    if not is_valid_number(number):
        raise ValueRejected(INVALID_PHONE, f"{quote(number_text)} is not a valid number")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # E.164 has no extension; Intercom's phone is free text, so the extension is kept after it, never cut.
    return f"{e164} ext. {number.extension}" if number.extension else e164


def is_valid_number(number: phonenumbers.PhoneNumber) -> bool:
    """phonenumbers.is_valid_number, without its search for the number's region when the country code's main region
    (listed first, and told apart by no leading digits) takes it: that search validates the number for the main
    region first and stops there, so checking that region alone gives the same yes, at half the cost."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(number.country_code) or ()
    if len(regions) > 1:
        main = phonenumbers.PhoneMetadata.metadata_for_region(regions[0], None)
        if main is not None and main.leading_digits is None and phonenumbers.is_valid_number_for_region(number, regions[0]):
            return True
    return bool(phonenumbers.is_valid_number(number))


@register("truncate")
def truncate(value: Any, *, length: PositiveInt, ctx: TransformContext) -> str:
    """Cut text to at most `length` characters."""
    text = _text(value)
    if len(text) <= length:
        return text
    ctx.content_dropped("truncated")
    return text[:length]


@register("first")
def first(value: Any) -> Any:
    """The first non-empty item of a list (nothing for an empty list); a single value is kept."""
    if isinstance(value, list):
        return next((item for item in value if not _is_empty(item)), None)
    return value


@register("default_if_empty", handles_missing=True)
def default_if_empty(value: Any, *, default: Any) -> Any:
    """Replace a missing or empty value (blank text, empty list) with `default`, e.g. after `strip` or `map_value`."""
    if isinstance(value, str) and not value.strip():
        return default
    return default if _is_empty(value) else value
