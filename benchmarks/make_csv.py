"""Write synthetic companies.csv and contacts.csv of any size, in chunks, for the CSV connector benchmarks."""

from __future__ import annotations

import argparse
import csv
import logging
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

logger = logging.getLogger("make_csv")

COMPANY_COLUMNS = ["id", "name", "website", "plan", "size", "industry", "created_at", "tier"]
CONTACT_COLUMNS = ["id", "email", "name", "phone", "role", "company_ids", "tags", "signed_up_at", "last_seen_at", "plan_tier", "notes"]

PLANS = ["free", "starter", "growth", "enterprise"]
INDUSTRIES = ["software", "retail", "logistics", "healthcare", "education", "finance"]
TIERS = ["bronze", "silver", "gold"]
TAGS = ["vip", "beta", "churn-risk", "newsletter", "partner", "trial"]
FIRST_NAMES = ["Ada", "Bruno", "Chloé", "Dmitri", "Eve", "Farah", "Gustav", "Hana", "Ines", "José", "Kai", "Léa"]
LAST_NAMES = ["Martin", "Okafor", "Novak", "Silva", "Müller", "Tanaka", "García", "Dubois", "Kowalski", "Jensen"]
EPOCH = datetime(2018, 1, 1, tzinfo=UTC)


def company_row(index: int, rng: random.Random) -> list[str]:
    created = EPOCH + timedelta(days=rng.randrange(2000))
    return [
        f"co-{index:07d}",
        f"Company {index} Ltd",
        f"https://company{index}.example.com",
        rng.choice(PLANS),
        str(rng.randrange(1, 5000)),
        rng.choice(INDUSTRIES),
        created.date().isoformat(),
        rng.choice(TIERS),
    ]


def contact_row(index: int, company_count: int, rng: random.Random) -> list[str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    companies = [f"co-{rng.randrange(company_count):07d}" for _ in range(2 if rng.random() < 0.05 else 1)]
    signed_up = EPOCH + timedelta(seconds=rng.randrange(200_000_000))
    last_seen = int(signed_up.timestamp()) + rng.randrange(10_000_000)
    notes = "" if rng.random() < 0.9 else f"Called on {signed_up.date()}.\nPrefers email."
    return [
        f"{index:08d}",
        f"user{index}@example.org",
        f"{first} {last}",
        # every row its own valid London number, as in a real export: validation is not spared by repeats
        f"+44 20 3{index // 10_000 % 1000:03d} {index % 10_000:04d}",
        "lead" if rng.random() < 0.1 else "user",
        ";".join(companies),
        ";".join(rng.sample(TAGS, rng.randrange(0, 3))),
        signed_up.isoformat().replace("+00:00", "Z"),
        str(last_seen),
        str(rng.randrange(1, 4)),
        notes,
    ]


def write_rows(path: Path, header: list[str], count: int, make_row, chunk_rows: int) -> None:
    """Write `count` rows produced by `make_row(index)`, holding at most `chunk_rows` in memory."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for start in range(0, count, chunk_rows):
            writer.writerows(make_row(index) for index in range(start, min(count, start + chunk_rows)))


def make_csv(rows: int, out: Path, seed: int = 7, chunk_rows: int = 50_000) -> tuple[Path, Path]:
    """Write `rows` contacts and rows/10 companies (at least one) into `out`; return both paths."""
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    company_count = max(1, rows // 10)
    companies, contacts = out / "companies.csv", out / "contacts.csv"
    write_rows(companies, COMPANY_COLUMNS, company_count, lambda i: company_row(i, rng), chunk_rows)
    write_rows(contacts, CONTACT_COLUMNS, rows, lambda i: contact_row(i, company_count, rng), chunk_rows)
    return companies, contacts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, required=True, help="number of contacts; companies are a tenth of it")
    parser.add_argument("--out", type=Path, required=True, help="directory to write companies.csv and contacts.csv into")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    companies, contacts = make_csv(args.rows, args.out, args.seed)
    logger.info("wrote %s (%d bytes) and %s (%d bytes)", companies, companies.stat().st_size, contacts, contacts.stat().st_size)


if __name__ == "__main__":
    main()
