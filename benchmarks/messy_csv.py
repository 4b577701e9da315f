"""Write a CRM export as messy as real ones: contacts.csv, companies.csv and a config.yaml for the sandbox.

    python benchmarks/messy_csv.py --rows 1000 --seed 7 --out /tmp/messy
    deskmigrate plan -c /tmp/messy/config.yaml

What it plants, per kind, is logged and written to planted.json next to the files, so a run's report can be
compared with it: phones in the national formats of several countries (with a `country` column), fictional 555
numbers, extensions; dates in every common format; custom values of the wrong type; invalid emails; rows without an
id; two contacts whose emails differ only in case; rows with too few fields; one row of cp1252 bytes and one row
with an invalid UTF-8 byte in the UTF-8 file; quoted multi-line notes; blank lines. Same --seed, same bytes.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import random
import unicodedata
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

logger = logging.getLogger("messy_csv")

CONTACT_COLUMNS = [
    "id", "email", "name", "phone", "country", "role", "company_id", "tags",
    "signed_up_at", "last_seen_at", "plan_tier", "newsletter", "notes",
]
COMPANY_COLUMNS = ["id", "name", "website", "plan", "size", "industry", "created_at"]
SHORT_ROW_FIELDS = CONTACT_COLUMNS.index("plan_tier")  # a truncated export line: ends after last_seen_at
FIRST_NAMES = ["Ada", "Bruno", "Chloé", "Dmitri", "Eve", "Farah", "Gustav", "Hana", "Inès", "José", "Kai", "Léa", "Zoë", "Björn"]
LAST_NAMES = ["Martin", "Okafor", "Novák", "Silva", "Müller", "Tanaka", "García", "Dubois", "Kowalski", "Jensen", "Ångström"]
PLANS = ["free", "starter", "growth", "enterprise"]
INDUSTRIES = ["software", "retail", "logistics", "healthcare", "education"]
TAGS = ["vip", "beta", "churn-risk", "newsletter", "partner", "trial"]
EPOCH = datetime(2018, 1, 1, tzinfo=UTC)
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]

# Phone numbers in fictional or reserved ranges (NANP 555-01xx, Ofcom's drama ranges, made-up German ones).
PHONE_FORMATS: dict[str, list[tuple[str, Callable[[random.Random], str]]]] = {
    "US": [
        ("us_dashes", lambda r: f"{r.randrange(201, 990)}-{r.randrange(200, 1000)}-{r.randrange(10000):04d}"),
        ("us_parentheses", lambda r: f"({r.randrange(201, 990)}){r.randrange(200, 1000)}-{r.randrange(10000):04d}"),
        ("us_fictional_555", lambda r: f"+1 555 01{r.randrange(100):02d}"),
        ("us_001_prefix", lambda r: f"001-{r.randrange(100, 990)}-{r.randrange(100, 1000)}-{r.randrange(10000):04d}"),
        ("us_e164", lambda r: f"+1{r.randrange(201, 990)}555{r.randrange(100, 200):04d}"),
    ],
    "GB": [
        ("uk_national", lambda r: f"020 7946 0{r.randrange(1000):03d}"),
        ("uk_mobile", lambda r: f"07700 900{r.randrange(1000):03d}"),
        ("uk_international", lambda r: f"+44 20 7946 0{r.randrange(1000):03d}"),
    ],
    "DE": [
        ("de_national", lambda r: f"030 {r.randrange(100000, 1000000)}"),
        ("de_international", lambda r: f"+49 30 {r.randrange(1000000, 10000000)}"),
    ],
}
EXTENSIONS = [lambda r: f" x{r.randrange(1000, 10000)}", lambda r: f" ext. {r.randrange(10, 100)}"]


class Planter:
    """Decides, row by row and deterministically, what goes wrong, and counts it."""

    def __init__(self, rows: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.rows = rows
        self.planted: Counter[str] = Counter()
        self.fixed: dict[int, str] = self._fixed_rows(rows)

    def _fixed_rows(self, rows: int) -> dict[int, str]:
        """Rows (1-based contact numbers) that carry a one-off problem, spread through the file."""
        per_thousand = max(1, rows // 1000)
        kinds = (
            ["no_id"] * 3 * per_thousand + ["invalid_email"] * 4 * per_thousand + ["too_few_fields"] * 3 * per_thousand
            + ["cp1252_row", "invalid_utf8_byte", "duplicate_email_other_case"]
        )
        numbers = self.rng.sample(range(2, rows), min(len(kinds), rows - 2))
        return dict(zip(numbers, kinds, strict=False))

    def count(self, kind: str) -> None:
        self.planted[kind] += 1

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability


def date_text(moment: datetime, planter: Planter, column: str) -> str:
    """`moment` in one of the formats exports use; numeric dates in this export are day-first, as in Europe."""
    rng = planter.rng
    kind = rng.choice(["iso", "iso", "day_first_numeric", "written_day_month", "written_month_day", "compact", "epoch_s", "epoch_ms"])
    if kind == "day_first_numeric":
        kind = "day_first_evident" if moment.day > 12 else "day_first_ambiguous"
        text = f"{moment.day:02d}/{moment.month:02d}/{moment.year}"
    elif kind == "written_day_month":
        text = f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}"
    elif kind == "written_month_day":
        text = f"{MONTHS[moment.month - 1]} {moment.day}, {moment.year}"
    elif kind == "compact":
        text = moment.strftime("%Y%m%d")
    elif kind == "epoch_s":
        text = str(int(moment.timestamp()))
    elif kind == "epoch_ms":
        text = str(int(moment.timestamp()) * 1000)
    else:
        text = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    planter.count(f"{column}:{kind}")
    return text


def phone_text(country: str, planter: Planter) -> str:
    if planter.chance(0.08):
        planter.count("phone:empty")
        return ""
    kind, make = planter.rng.choice(PHONE_FORMATS[country])
    text = make(planter.rng)
    planter.count(f"phone:{kind}")
    if planter.chance(0.06):
        text += planter.rng.choice(EXTENSIONS)(planter.rng)
        planter.count("phone:with_extension")
    return text


def contact_cells(number: int, companies: int, planter: Planter) -> list[str]:
    rng = planter.rng
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    country = rng.choice(["US", "US", "US", "GB", "DE"])
    signed_up = EPOCH + timedelta(seconds=rng.randrange(150_000_000))
    last_seen = signed_up + timedelta(seconds=rng.randrange(20_000_000))
    plan_tier = str(rng.randrange(1, 5))
    if planter.chance(0.03):
        plan_tier = "gold"
        planter.count("plan_tier:not_an_integer")
    newsletter = rng.choice(["yes", "no", "true", "false", "1", "0"])
    if planter.chance(0.03):
        newsletter = "maybe"
        planter.count("newsletter:not_a_boolean")
    notes = ""
    if planter.chance(0.05):
        notes = f"Called on {signed_up.date().isoformat()}.\nPrefers email, not phone."
        planter.count("notes:quoted_multiline")
    return [
        f"c{number:06d}",
        ascii_text(f"{first.lower()}.{last.lower()}.{number}@example.com"),
        f"{first} {last}",
        phone_text(country, planter),
        country,
        "lead" if planter.chance(0.1) else "user",
        f"co{rng.randrange(companies):05d}" if planter.chance(0.8) else "",
        ";".join(rng.sample(TAGS, rng.randrange(0, 3))),
        date_text(signed_up, planter, "signed_up_at"),
        date_text(last_seen, planter, "last_seen_at"),
        plan_tier,
        newsletter,
        notes,
    ]


def ascii_text(text: str) -> str:
    """Zoë → Zoe, as exports write email addresses."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def csv_line(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()


def contact_line(number: int, companies: int, planter: Planter, duplicate_of: list[str]) -> bytes:
    """One contact as the bytes the export holds, with the row's one-off problem when it has one."""
    cells = contact_cells(number, companies, planter)
    kind = planter.fixed.get(number)
    if kind is not None:
        planter.count(kind)
    if number == 1:
        duplicate_of.append(cells[1])
    if kind == "no_id":
        cells[0] = ""
    elif kind == "invalid_email":
        cells[1] = planter.rng.choice(["jane@", "bob at example.com", "sam@@example.com", "kim@example"])
    elif kind == "duplicate_email_other_case":
        cells[1] = duplicate_of[0].title()  # c000001's address in other letter case: a second person, one email
    elif kind == "too_few_fields":
        cells = cells[:SHORT_ROW_FIELDS]
    if kind == "cp1252_row":
        cells[2], cells[12] = "Chloé Lefèvre", "Café – rendez-vous à 10h"
        return csv_line(cells).encode("cp1252")
    if kind == "invalid_utf8_byte":
        # A valid "é" and a stray byte in one cell: damage, not another encoding (the reader replaces the byte).
        cells[2] = "René \udcfcller"
        return csv_line(cells).encode("utf-8", "surrogateescape")
    return csv_line(cells).encode("utf-8")


def company_line(number: int, planter: Planter) -> bytes:
    rng = planter.rng
    created = EPOCH + timedelta(days=rng.randrange(2000))
    size = str(rng.randrange(1, 5000))
    if planter.chance(0.03):
        size = "twelve"
        planter.count("company_size:not_a_number")
    cells = [
        f"co{number:05d}", f"Company {number} Ltd", f"https://company{number}.example.com",
        rng.choice(PLANS), size, rng.choice(INDUSTRIES), date_text(created, planter, "company_created_at"),
    ]
    return csv_line(cells).encode("utf-8")


CONFIG = """# Generated by benchmarks/messy_csv.py: a messy CRM export into the local sandbox.
source:
  type: csv
  companies:
    path: companies.csv
  contacts:
    path: contacts.csv
    company_column: company_id
target:
  type: sandbox
  token: sandbox-messy-token
  path: .deskmigrate/sandbox.db
mapping: csv
state: .deskmigrate
"""


def write_files(rows: int, seed: int, out: Path) -> Counter[str]:
    """Write contacts.csv, companies.csv, config.yaml and planted.json into `out`; return what was planted."""
    out.mkdir(parents=True, exist_ok=True)
    planter = Planter(rows, seed)
    companies = max(1, rows // 10)
    with (out / "companies.csv").open("wb") as handle:
        handle.write(csv_line(COMPANY_COLUMNS).encode())
        for number in range(companies):
            handle.write(company_line(number, planter))
    duplicate_of: list[str] = []
    with (out / "contacts.csv").open("wb") as handle:
        handle.write(csv_line(CONTACT_COLUMNS).encode())
        for number in range(1, rows + 1):
            handle.write(contact_line(number, companies, planter, duplicate_of))
            if planter.chance(0.004):
                handle.write(b"\r\n")
                planter.count("blank_line")
    (out / "config.yaml").write_text(CONFIG, encoding="utf-8")
    planted = Counter({"contacts": rows, "companies": companies, **planter.planted})
    (out / "planted.json").write_text(json.dumps(dict(sorted(planted.items())), indent=2) + "\n", encoding="utf-8")
    return planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1000, help="contact rows; companies are a tenth of it")
    parser.add_argument("--seed", type=int, default=7, help="same seed, same files")
    parser.add_argument("--out", type=Path, required=True, help="directory to write the files into")
    args = parser.parse_args()
    if args.rows < 10:
        parser.error("--rows must be at least 10")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    planted = write_files(args.rows, args.seed, args.out)
    logger.info("wrote %s: contacts.csv, companies.csv, config.yaml, planted.json", args.out)
    for kind, count in sorted(planted.items()):
        logger.info("  %-40s %6d", kind, count)


if __name__ == "__main__":
    main()
