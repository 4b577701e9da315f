"""The people of the messy fake accounts: what real accounts hold, shared by the Zendesk, Freshdesk and Help Scout fakes.

Each vendor's `messy_account()` writes these people in that vendor's own documented shapes. What makes them messy:
phones in national formats from several countries (with extensions, fictional 555 numbers, text that is no number),
dates in custom fields written every way people write them, a text value ("gold") in a numeric field, and two people
sharing one email in different letter case. All names, numbers and addresses are fictional.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Person:
    """One customer: `country` is ISO 3166 alpha-2 (None when the source would not know it)."""

    number: int
    first: str
    last: str
    email: str | None
    phone: str | None
    country: str | None
    locale: str
    iana_tz: str
    rails_tz: str
    signup: str | None  # a date as someone typed it into a custom field
    seats: Any  # a numeric custom field's value: mostly numbers, sometimes not

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}".strip()


# (first, last, email, phone, country, locale, IANA zone, Rails zone, signup as written, seats)
_ROWS: list[tuple[str, str, str | None, str | None, str | None, str, str, str, str | None, Any]] = [
    ("Avery", "Stone", "avery.stone@example.com", "286-133-4778", "US", "en-US", "America/New_York", "Eastern Time (US & Canada)", "03/04/2021", 12),
    ("Blake", "Rivers", "blake.rivers@example.com", "(283)276-9009", "US", "en-US", "America/Chicago", "Central Time (US & Canada)", "4 March 2021", 3),
    ("Casey", "Moreno", "casey.moreno@example.com", "+1 555 0119", "US", "en-US", "America/Los_Angeles", "Pacific Time (US & Canada)", "2021-03-04", "gold"),
    ("Devon", "Price", "devon.price@example.com", "001-163-300-9875", "US", "en-US", "America/Denver", "Mountain Time (US & Canada)", "March 4, 2021", 1),
    ("Harriet", "Clarke", "harriet.clarke@example.co.uk", "020 7946 0958", "GB", "en-GB", "Europe/London", "London", "13/04/2021", 40),
    ("Oliver", "Hughes", "oliver.hughes@example.co.uk", "+44 20 7946 0958 ext. 12", "GB", "en-GB", "Europe/London", "Edinburgh", "20210304", "12"),
    ("Jonas", "Becker", "jonas.becker@example.de", "030 901820", "DE", "de", "Europe/Berlin", "Berlin", "04.03.2021", 7),
    ("Lena", "Fischer", "lena.fischer@example.de", "+49 30 901820", "DE", "de", "Europe/Berlin", "Berlin", "1614816000000", 2),
    ("Chloé", "Lefèvre", "chloe.lefevre@example.fr", "06 12 34 56 78", "FR", "fr", "Europe/Paris", "Paris", "4 mars 2021", "seven"),
    ("Théo", "Martin", "theo.martin@example.fr", "+33 6 12 34 56 78", "FR", "fr", "Europe/Paris", "Paris", None, 5),
    ("Mia", "Nguyen", "mia.nguyen@example.com.au", "02 9374 4000", "AU", "en-AU", "Australia/Sydney", "Sydney", "04/03/2021", 9),
    ("Jack", "Wilson", "jack.wilson@example.com.au", "0412 345 678", "AU", "en-AU", "Australia/Sydney", "Sydney", "2021-03-04T10:00:00Z", 4.5),
    ("Yuki", "Tanaka", "yuki.tanaka@example.jp", "090-1234-5678", "JP", "ja", "Asia/Tokyo", "Tokyo", "2021/03/04", 11),
    ("Astrid", "Lindqvist", "astrid.lindqvist@example.se", "070-123 45 67", "SE", "sv", "Europe/Stockholm", "Stockholm", "2021-03-04", 6),
    ("Noah", "Tremblay", "noah.tremblay@example.ca", "(416) 555-0142", "CA", "fr-CA", "America/Toronto", "Eastern Time (US & Canada)", "03/04/2021", 8),
    ("Emma", "Brooks", "emma.brooks@example.com", "555-0134 x4264", "US", "en-US", "America/New_York", "Eastern Time (US & Canada)", "not sure", 2),
    ("Liam", "Foster", "liam.foster@example.com", "202.555.0147", "US", "en-US", "America/New_York", "Eastern Time (US & Canada)", "", 15),
    ("Sofia", "Ramos", "sofia.ramos@example.com", "+1-202-555-0147", "US", "es", "America/Los_Angeles", "Pacific Time (US & Canada)", "4 March 2021", 0),
    ("Ethan", "Cole", "ethan.cole@example.com", "n/a", "US", "en-US", "America/Chicago", "Central Time (US & Canada)", "March 4, 2021", 22),
    ("Grace", "Kim", "grace.kim@example.com", "call me after 5", "US", "en-US", "America/Los_Angeles", "Pacific Time (US & Canada)", "03/04/2021", 1),
    ("Hugo", "Weber", "hugo.weber@example.de", "0049 30 901820", "DE", "de", "Europe/Berlin", "Berlin", "4.3.2021", 3),
    ("Isla", "Murray", "isla.murray@example.co.uk", "07700 900123", "GB", "en-GB", "Europe/London", "London", "04/03/2021", 14),
    ("Mateo", "Silva", "mateo.silva@example.com.br", "+55 11 91234-5678", "BR", "pt-BR", "America/Sao_Paulo", "Brasilia", "04/03/2021", 2),
    ("Priya", "Sharma", "priya.sharma@example.in", "098765 43210", "IN", "en-US", "Asia/Kolkata", "New Delhi", "2021-03-04", 30),
    ("Sam", "Taylor", "Sam.Taylor@Example.com", "+1 (415) 555-0100", "US", "en-US", "America/Los_Angeles", "Pacific Time (US & Canada)", "2021-03-04", 1),
    ("Samantha", "Taylor", "sam.taylor@example.com", "415-555-0100", "US", "en-US", "America/Los_Angeles", "Pacific Time (US & Canada)", "2021-05-06", 2),
    ("Zoë", "Ångström", "zoe.angstrom@example.se", "+46 70 123 45 67", "SE", "sv", "Europe/Stockholm", "Stockholm", "4 March 2021", "lots"),
    ("Fay", "NoEmail", None, "(212) 555-0199", "US", "en-US", "America/New_York", "Eastern Time (US & Canada)", None, None),
    ("Omar", "Haddad", "omar.haddad@example.com", None, None, "ar", "Asia/Dubai", "Abu Dhabi", "04/03/2021", 4),
    ("Ruth", "Okafor", "ruth.okafor@example.com", "", None, "en-US", "Africa/Lagos", "West Central Africa", "March 4, 2021", 2),
    ("Pedro", "Alves", "pedro.alves@example.pt", "+351 21 123 4567", "PT", "pt", "Europe/Lisbon", "Lisbon", "2021-03-04", 5),
    ("Nina", "Kowalska", "nina.kowalska@example.pl", "22 123 45 67", "PL", "pl", "Europe/Warsaw", "Warsaw", "04.03.2021", "gold"),
    ("Ivan", "Petrov", "ivan.petrov@example.com", "+7 495 123-45-67", None, "ru", "Europe/Moscow", "Moscow", "2021-03-04", 3),
    ("Kofi", "Mensah", "kofi.mensah@example.com", "(555) 010-4477", "US", "en-US", "America/New_York", "Eastern Time (US & Canada)", "3/4/21", 6),
    ("Lucía", "Gómez", "lucia.gomez@example.es", "912 34 56 78", "ES", "es", "Europe/Madrid", "Madrid", "4 March 2021", 2),
    ("Finn", "O'Brien", "finn.obrien@example.ie", "01 234 5678", "IE", "en-GB", "Europe/Dublin", "Dublin", "04/03/2021", 1),
]

PEOPLE: list[Person] = [Person(number, *row) for number, row in enumerate(_ROWS)]

# The two people whose emails differ only in letter case (different ids in every source).
SAME_EMAIL_PAIR = ("Sam.Taylor@Example.com", "sam.taylor@example.com")

# Each ticket's subject and first-message text, by index; requesters and authors are chosen per vendor.
SUBJECTS = [
    "Cannot log in", "Invoice is wrong", "Refund please", "Export to CSV fails", "Café menu ☕ not loading", "Password reset loop",
    "Change billing address", "API returns 500", "Add a seat", "Cancel my plan", "Where is my order?", "Bug in the mobile app",
    "Feature request: dark mode", "Slow dashboard", "SSO set-up", "Wrong timezone in reports", "Duplicate charge", "Upgrade question",
    "Data deletion request", "Hej! Återbetalning?", "Le PDF ne s'ouvre pas", "Rechnung fehlt", "Can't attach files", "Webhook retries",
]


def signup_values() -> list[str]:
    """Every signup date as written (blank ones left out): what a mapping sees in that custom field."""
    return [p.signup for p in PEOPLE if p.signup]
