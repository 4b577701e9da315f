"""Where a person is, from what the source knows of them: a country, a locale or a time zone → a phone region.

Phone numbers written without +country are read in this region. Country names and time zones come from the tz
database (the `tzdata` package's iso3166.tab and zone.tab, else the system's /usr/share/zoneinfo).
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

import phonenumbers

logger = logging.getLogger(__name__)

SYSTEM_ZONEINFO = Path("/usr/share/zoneinfo")
LOCALE_REGION = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z]{4})?[-_]([A-Za-z]{2})(?:[-_.@].*)?$")
# Names the tz database writes differently from how people and exports do.
COUNTRY_ALIASES: dict[str, str] = {
    "usa": "US", "united states of america": "US", "america": "US", "uk": "GB", "united kingdom": "GB",
    "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB",
    "russia": "RU", "south korea": "KR", "korea": "KR", "north korea": "KP", "czech republic": "CZ", "czechia": "CZ",
    "vietnam": "VN", "viet nam": "VN", "iran": "IR", "syria": "SY", "laos": "LA", "taiwan": "TW", "holland": "NL",
    "the netherlands": "NL", "ivory coast": "CI", "uae": "AE", "turkey": "TR", "turkiye": "TR", "macedonia": "MK",
}
# Ruby on Rails' time zone names (ActiveSupport::TimeZone::MAPPING), which Zendesk and Freshdesk give for people:
# "Eastern Time (US & Canada)", "London". Names whose zone belongs to no one country are left out (UTC, Mid-Atlantic).
RAILS_TIME_ZONES: dict[str, str] = {
    "Midway Island": "Pacific/Midway", "American Samoa": "Pacific/Pago_Pago", "Hawaii": "Pacific/Honolulu",
    "Alaska": "America/Juneau", "Pacific Time (US & Canada)": "America/Los_Angeles", "Tijuana": "America/Tijuana",
    "Mountain Time (US & Canada)": "America/Denver", "Arizona": "America/Phoenix", "Chihuahua": "America/Chihuahua",
    "Mazatlan": "America/Mazatlan", "Central Time (US & Canada)": "America/Chicago", "Saskatchewan": "America/Regina",
    "Guadalajara": "America/Mexico_City", "Mexico City": "America/Mexico_City", "Monterrey": "America/Monterrey",
    "Central America": "America/Guatemala", "Eastern Time (US & Canada)": "America/New_York",
    "Indiana (East)": "America/Indiana/Indianapolis", "Bogota": "America/Bogota", "Lima": "America/Lima",
    "Quito": "America/Lima", "Atlantic Time (Canada)": "America/Halifax", "Caracas": "America/Caracas",
    "La Paz": "America/La_Paz", "Santiago": "America/Santiago", "Newfoundland": "America/St_Johns",
    "Brasilia": "America/Sao_Paulo", "Buenos Aires": "America/Argentina/Buenos_Aires", "Montevideo": "America/Montevideo",
    "Georgetown": "America/Guyana", "Puerto Rico": "America/Puerto_Rico", "Greenland": "America/Nuuk",
    "Azores": "Atlantic/Azores", "Cape Verde Is.": "Atlantic/Cape_Verde", "Dublin": "Europe/Dublin",
    "Edinburgh": "Europe/London", "Lisbon": "Europe/Lisbon", "London": "Europe/London", "Casablanca": "Africa/Casablanca",
    "Monrovia": "Africa/Monrovia", "Belgrade": "Europe/Belgrade", "Bratislava": "Europe/Bratislava",
    "Budapest": "Europe/Budapest", "Ljubljana": "Europe/Ljubljana", "Prague": "Europe/Prague", "Sarajevo": "Europe/Sarajevo",
    "Skopje": "Europe/Skopje", "Warsaw": "Europe/Warsaw", "Zagreb": "Europe/Zagreb", "Brussels": "Europe/Brussels",
    "Copenhagen": "Europe/Copenhagen", "Madrid": "Europe/Madrid", "Paris": "Europe/Paris", "Amsterdam": "Europe/Amsterdam",
    "Berlin": "Europe/Berlin", "Bern": "Europe/Zurich", "Zurich": "Europe/Zurich", "Rome": "Europe/Rome",
    "Stockholm": "Europe/Stockholm", "Vienna": "Europe/Vienna", "West Central Africa": "Africa/Algiers",
    "Bucharest": "Europe/Bucharest", "Cairo": "Africa/Cairo", "Helsinki": "Europe/Helsinki", "Kyiv": "Europe/Kyiv",
    "Kyev": "Europe/Kyiv", "Riga": "Europe/Riga", "Sofia": "Europe/Sofia", "Tallinn": "Europe/Tallinn",
    "Vilnius": "Europe/Vilnius", "Athens": "Europe/Athens", "Istanbul": "Europe/Istanbul", "Minsk": "Europe/Minsk",
    "Jerusalem": "Asia/Jerusalem", "Harare": "Africa/Harare", "Pretoria": "Africa/Johannesburg",
    "Kaliningrad": "Europe/Kaliningrad", "Moscow": "Europe/Moscow", "St. Petersburg": "Europe/Moscow",
    "Volgograd": "Europe/Volgograd", "Samara": "Europe/Samara", "Kuwait": "Asia/Kuwait", "Riyadh": "Asia/Riyadh",
    "Nairobi": "Africa/Nairobi", "Baghdad": "Asia/Baghdad", "Tehran": "Asia/Tehran", "Abu Dhabi": "Asia/Dubai",
    "Muscat": "Asia/Muscat", "Baku": "Asia/Baku", "Tbilisi": "Asia/Tbilisi", "Yerevan": "Asia/Yerevan",
    "Kabul": "Asia/Kabul", "Ekaterinburg": "Asia/Yekaterinburg", "Islamabad": "Asia/Karachi", "Karachi": "Asia/Karachi",
    "Tashkent": "Asia/Tashkent", "Chennai": "Asia/Kolkata", "Kolkata": "Asia/Kolkata", "Mumbai": "Asia/Kolkata",
    "New Delhi": "Asia/Kolkata", "Kathmandu": "Asia/Kathmandu", "Dhaka": "Asia/Dhaka",
    "Sri Jayawardenepura": "Asia/Colombo", "Almaty": "Asia/Almaty", "Novosibirsk": "Asia/Novosibirsk",
    "Rangoon": "Asia/Yangon", "Bangkok": "Asia/Bangkok", "Hanoi": "Asia/Ho_Chi_Minh", "Jakarta": "Asia/Jakarta",
    "Krasnoyarsk": "Asia/Krasnoyarsk", "Beijing": "Asia/Shanghai", "Chongqing": "Asia/Shanghai",
    "Hong Kong": "Asia/Hong_Kong", "Urumqi": "Asia/Urumqi", "Kuala Lumpur": "Asia/Kuala_Lumpur",
    "Singapore": "Asia/Singapore", "Taipei": "Asia/Taipei", "Perth": "Australia/Perth", "Irkutsk": "Asia/Irkutsk",
    "Ulaanbaatar": "Asia/Ulaanbaatar", "Ulaan Bataar": "Asia/Ulaanbaatar", "Seoul": "Asia/Seoul", "Osaka": "Asia/Tokyo",
    "Sapporo": "Asia/Tokyo", "Tokyo": "Asia/Tokyo", "Yakutsk": "Asia/Yakutsk", "Darwin": "Australia/Darwin",
    "Adelaide": "Australia/Adelaide", "Canberra": "Australia/Melbourne", "Melbourne": "Australia/Melbourne",
    "Sydney": "Australia/Sydney", "Brisbane": "Australia/Brisbane", "Hobart": "Australia/Hobart",
    "Vladivostok": "Asia/Vladivostok", "Guam": "Pacific/Guam", "Port Moresby": "Pacific/Port_Moresby",
    "Magadan": "Asia/Magadan", "Srednekolymsk": "Asia/Srednekolymsk", "Solomon Is.": "Pacific/Guadalcanal",
    "New Caledonia": "Pacific/Noumea", "Fiji": "Pacific/Fiji", "Kamchatka": "Asia/Kamchatka",
    "Marshall Is.": "Pacific/Majuro", "Auckland": "Pacific/Auckland", "Wellington": "Pacific/Auckland",
    "Nuku'alofa": "Pacific/Tongatapu", "Tokelau Is.": "Pacific/Fakaofo", "Chatham Is.": "Pacific/Chatham",
    "Samoa": "Pacific/Apia",
}


def region_from_hints(country: str | None, locale: str | None, time_zone: str | None) -> str | None:
    """The record's phone region, trying its country, then its locale's region part, then its time zone."""
    return region_of_country(country) or region_of_locale(locale) or region_of_time_zone(time_zone)


def region_of_country(country: str | None) -> str | None:
    """"GB", "gb", "United Kingdom", "Britain (UK)", "Germany" → a region phonenumbers knows, else None."""
    text = (country or "").strip()
    if not text:
        return None
    if len(text) == 2 and text.upper() in phonenumbers.SUPPORTED_REGIONS:
        return text.upper()
    folded = " ".join(text.casefold().replace(".", "").split())
    code = COUNTRY_ALIASES.get(folded) or _country_names().get(folded)
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


def region_of_locale(locale: str | None) -> str | None:
    """"en-US" → US, "pt_BR" → BR, "zh-Hant-TW" → TW; a bare language ("de") says nothing about the country."""
    match = LOCALE_REGION.match((locale or "").strip())
    code = match.group(1).upper() if match else None
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


def region_of_time_zone(time_zone: str | None) -> str | None:
    """"Europe/Berlin" (IANA) or "Berlin", "Eastern Time (US & Canada)" (Rails, Zendesk/Freshdesk) → its country."""
    name = (time_zone or "").strip()
    if not name:
        return None
    zone = RAILS_TIME_ZONES.get(name, name)
    code = _zone_countries().get(zone)
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


def _tz_table(name: str) -> list[list[str]]:
    """Rows of one of the tz database's tab files (comments skipped); empty when neither copy is present."""
    text: str | None = None
    try:
        text = resources.files("tzdata").joinpath("zoneinfo", name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        system = SYSTEM_ZONEINFO / name
        if system.is_file():
            text = system.read_text(encoding="utf-8")
    if text is None:
        logger.warning("the tz database's %s was not found: countries and time zones cannot give phone regions", name)
        return []
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


@lru_cache(maxsize=1)
def _zone_countries() -> dict[str, str]:
    # zone.tab names one country per zone (zone1970.tab lists several for shared zones)
    return {row[2]: row[0] for row in _tz_table("zone.tab") if len(row) >= 3}


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for row in _tz_table("iso3166.tab"):
        if len(row) < 2:
            continue
        code, name = row[0], row[1]
        # "Britain (UK)", "Korea (South)", "Congo (Dem. Rep.)": both the whole name and the part before the bracket
        for variant in (name, name.split(" (")[0]):
            names.setdefault(" ".join(variant.casefold().replace(".", "").split()), code)
    return names
