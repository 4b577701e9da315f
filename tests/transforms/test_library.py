"""Every built-in transform, on good and bad values, through the registry as a mapping would call it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from deskmigrate.transforms import REGISTRY
from deskmigrate.transforms.registry import TransformContext, ValueRejected
from deskmigrate.transforms.spec import ValueMap

VALUE_MAPS = {
    "status": ValueMap(values={"open": "open", "pending": "snoozed", 2: "open"}, default="open"),
    "priority": ValueMap(values={"urgent": "high"}),
}


def run(name: str, value: Any, **args: Any) -> tuple[Any, TransformContext]:
    ctx = TransformContext(value_maps=VALUE_MAPS)
    return REGISTRY[name].bind(args)(value, ctx), ctx


def result(name: str, value: Any, **args: Any) -> Any:
    return run(name, value, **args)[0]


def rejected(name: str, value: Any, **args: Any) -> ValueRejected:
    with pytest.raises(ValueRejected) as caught:
        result(name, value, **args)
    return caught.value


def test_every_transform_the_design_names_is_registered_with_a_summary() -> None:
    expected = set(
        "lowercase uppercase strip prefix unix_time join split html_to_text sanitize_html map_value to_int to_float to_bool email phone"
        " truncate first default_if_empty".split()
    )
    assert expected <= set(REGISTRY)
    assert all(REGISTRY[name].summary for name in expected)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("lowercase", "ÄBC Def", "äbc def"),
        ("lowercase", ["VIP", "Beta"], ["vip", "beta"]),
        ("uppercase", "abc", "ABC"),
        ("strip", "  padded \t", "padded"),
        ("strip", [" a ", "b "], ["a", "b"]),
    ],
)
def test_text_case_and_whitespace(name: str, value: Any, expected: Any) -> None:
    assert result(name, value) == expected


def test_text_transforms_reject_values_that_are_not_text() -> None:
    assert rejected("lowercase", {"a": 1}).reason == "not text"
    assert rejected("strip", True).reason == "not text"


def test_prefix_prepends_and_accepts_numeric_ids() -> None:
    assert result("prefix", "123", prefix="zd:") == "zd:123"
    assert result("prefix", 123, prefix="zd:") == "zd:123"
    assert result("prefix", ["1", "2"], prefix="fd:") == ["fd:1", "fd:2"]


def test_prefix_without_its_argument_cannot_be_bound() -> None:
    with pytest.raises(ValidationError):
        REGISTRY["prefix"].bind({})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2024, 3, 1, 9, 30, tzinfo=UTC), 1709285400),
        (datetime(2024, 3, 1, 10, 30, tzinfo=timezone(timedelta(hours=1))), 1709285400),
        (datetime(2024, 3, 1, 9, 30), 1709285400),  # naive = UTC
        (date(2024, 3, 1), 1709251200),
        ("2024-03-01T09:30:00Z", 1709285400),
        ("2024-03-01", 1709251200),
        (1709285400, 1709285400),
        ("1709285400", 1709285400),
    ],
)
def test_unix_time_accepts_datetimes_dates_iso_text_and_seconds(value: Any, expected: int) -> None:
    assert result("unix_time", value) == expected


def test_unix_time_with_an_explicit_format() -> None:
    assert result("unix_time", "01/03/2024", format="%d/%m/%Y") == 1709251200
    assert rejected("unix_time", "2024-03-01", format="%d/%m/%Y").reason == "unreadable date"


@pytest.mark.parametrize("value", ["next tuesday", "soon", "12", "2024-13-01", "31/02/2021", "March 2021", True, 1.5])
def test_unix_time_rejects_what_is_not_a_time(value: Any) -> None:
    assert rejected("unix_time", value).reason == "unreadable date"


def test_join_and_split() -> None:
    assert result("join", ["a", "", None, "b"], sep=" | ") == "a | b"
    assert result("join", "single") == "single"
    assert result("split", "a, b,,c ") == ["a", "b", "c"]
    assert result("split", "a;b", sep=";") == ["a", "b"]
    assert result("split", ["kept"]) == ["kept"]


def test_html_to_text_keeps_line_breaks_lists_and_link_urls() -> None:
    html = (
        "<p>Hello&nbsp;<b>Jane</b>,</p><p>See <a href='https://help.example.com/a/1'>the guide</a><br>and reply.</p>"
        "<ul><li>one</li><li>two</li></ul><script>alert(1)</script>"
    )
    text, ctx = run("html_to_text", html)
    assert text == "Hello Jane,\n\nSee the guide (https://help.example.com/a/1)\nand reply.\n\n- one\n- two"
    assert ctx.losses == ["html stripped"]


def test_html_to_text_on_plain_text_reports_no_loss() -> None:
    text, ctx = run("html_to_text", "just text")
    assert text == "just text"
    assert ctx.losses == []


def test_sanitize_html_removes_unsafe_and_unsupported_markup() -> None:
    html = '<p onclick="x()">Hi <font color=red>there</font></p><script>steal()</script><a href="javascript:x()">bad</a><img src="https://x/y.png">'
    cleaned, ctx = run("sanitize_html", html, profile="article")
    assert "script" not in cleaned and "steal" not in cleaned and "onclick" not in cleaned and "javascript" not in cleaned
    assert "<p>Hi there</p>" in cleaned and '<img src="https://x/y.png">' in cleaned
    assert ctx.losses == ["html tags removed"]  # the value-free kind the report counts by
    assert ctx.loss_details() == ["html tags removed: font, script"]  # and which tags went


def test_sanitize_html_profiles_differ() -> None:
    html = "<h2>Title</h2><p>text</p>"
    assert result("sanitize_html", html, profile="article") == html
    assert result("sanitize_html", html, profile="basic") == "Title<p>text</p>"
    with pytest.raises(ValidationError):
        REGISTRY["sanitize_html"].bind({"profile": "everything"})


def test_map_value_hits_misses_and_defaults() -> None:
    value, ctx = run("map_value", "pending", map="status")
    assert (value, ctx.misses) == ("snoozed", [])
    value, ctx = run("map_value", "hold", map="status")
    assert (value, ctx.misses) == ("open", [("status", "hold")])  # the map's default
    value, ctx = run("map_value", "low", map="priority")
    assert (value, ctx.misses) == (None, [("priority", "low")])  # no map default: nothing
    assert result("map_value", 2, map="status") == "open"  # numeric source values match YAML keys


def test_map_value_over_a_list_drops_unmapped_items() -> None:
    value, ctx = run("map_value", ["urgent", "whatever"], map="priority")
    assert value == ["high"]
    assert ctx.misses == [("priority", "whatever")]


def test_value_map_ignore_case() -> None:
    table = ValueMap(values={"Open": "open"}, ignore_case=True)
    assert table.lookup("OPEN") == (True, "open")
    assert ValueMap(values={"Open": "open"}).lookup("OPEN") == (False, None)


@pytest.mark.parametrize(("value", "expected"), [("3", 3), (" -4 ", -4), ("3.0", 3), (7.0, 7), (12, 12)])
def test_to_int_is_lossless(value: Any, expected: int) -> None:
    assert result("to_int", value) == expected


@pytest.mark.parametrize("value", ["3.5", 3.5, "three", True, "1_000", ""])
def test_to_int_rejects_what_would_need_rounding_or_guessing(value: Any) -> None:
    assert rejected("to_int", value).reason == "not a whole number"


def test_to_float() -> None:
    assert result("to_float", "2.5") == 2.5
    assert result("to_float", 3) == 3.0
    assert rejected("to_float", "abc").reason == "not a number"
    assert rejected("to_float", "nan").reason == "not a finite number"


@pytest.mark.parametrize(("value", "expected"), [("yes", True), ("No", False), ("1", True), (0, False), ("TRUE", True), (False, False)])
def test_to_bool(value: Any, expected: bool) -> None:
    assert result("to_bool", value) is expected


def test_to_bool_rejects_other_words() -> None:
    assert rejected("to_bool", "maybe").reason == "not a yes/no value"
    assert rejected("to_bool", 2).reason == "not a yes/no value"


def test_email_normalises_and_rejects_invalid_addresses() -> None:
    assert result("email", " Jane.Doe@EXAMPLE.com ") == "Jane.Doe@example.com"
    problem = rejected("email", "jane@")
    assert problem.reason == "invalid email address"
    assert "'jane@'" in str(problem)
    assert rejected("email", "no-at-sign").reason == "invalid email address"


TRICKY_ADDRESSES = [
    "Jane.Doe@EXAMPLE.com", "INFO@Example.com", "Support@example.com", "user+tag@example.co.uk", "O'Brien@example.ie",
    "a@xn--bcher-kva.example", "a@XN--BCHER-KVA.example", "a@xn--zz.com", "a@localhost", "a@example", "a@test", "a@invalid",
    "a@example.local", "a@123.com", "a@example.123", "a@.example.com", "a@example..com", "a@-example.com", "a@example-.com",
    "a@exa_mple.com", "a..b@example.com", ".a@example.com", "a.@example.com", "a@example.com.", "a@b.c", "a@@example.com",
    "a b@example.com", "a@exa mple.com", '"quoted"@example.com', "Jane <jane@example.com>", "a@[192.0.2.1]", "@example.com",
    "a@", "x" * 64 + "@example.com", "x" * 65 + "@example.com", "a@" + "b" * 63 + ".com", "a@" + "b" * 64 + ".com",
    "a@" + ".".join(["c" * 60] * 4) + ".com", "x" * 60 + "@" + ".".join(["d" * 60] * 3) + ".io", "ü@example.com",
    "a@bücher.example", "a@EXAMPLE.ＣＯＭ", "a@example.com\n", "a@ex(comment)ample.com", "a@example.c0m", "a@e.x",
    "postmaster@Example.com", "a@sub.example.museum", "a{b}@example.com", "a|b@example.com", "#!$%&'*+-/=?^_`{}|~@example.org",
]


def _validated(address: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        return "<rejected>"


def _email_or_rejected(address: str) -> str:
    try:
        return result("email", address)
    except ValueRejected:
        return "<rejected>"


def test_email_gives_exactly_what_email_validator_gives_on_tricky_and_random_addresses() -> None:
    # the everyday-address shortcut must never accept, refuse or normalise differently from the full validation
    import random

    rng = random.Random(12)
    alphabet = "aZ9.-_+@'\"<> ()[]\\,;:é!#xn-" + "."
    randoms = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 14))) for _ in range(3000)]
    shaped = [f"{rng.choice(['a', 'A.b', 'x-y', 'INFO', '.q', 'q.'])}@{rng.choice(['Ex.com', 'ex..com', 'xn--ex.com', 'ex', 'é.com', '1.2'])}"
              for _ in range(500)]
    for address in [*TRICKY_ADDRESSES, *randoms, *shaped]:
        assert _email_or_rejected(address) == _validated(address.strip()), address


def test_phone_validity_is_phonenumbers_own_on_numbers_of_countries_sharing_a_code() -> None:
    # the shortcut for a country code's main region must agree with phonenumbers.is_valid_number, yes and no
    import random

    import phonenumbers

    from deskmigrate.transforms.library import is_valid_number

    rng = random.Random(5)
    checked = valid = 0
    for country_code in (1, 44, 7, 39, 47, 61, 262, 290, 590, 599, 33, 49):
        for _ in range(400):
            digits = "".join(rng.choice("0123456789") for _ in range(rng.randrange(6, 12)))
            try:
                number = phonenumbers.parse(f"+{country_code} {digits}", None)
            except phonenumbers.NumberParseException:
                continue
            checked += 1
            valid += phonenumbers.is_valid_number(number)
            assert is_valid_number(number) == phonenumbers.is_valid_number(number), f"+{country_code} {digits}"
    # every region of a shared country code (Jersey's +44 numbers, Canada's +1), in each kind of number it has
    for regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.values():
        for region in regions if len(regions) > 1 else ():
            for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.TOLL_FREE):
                example = phonenumbers.example_number_for_type(region, kind)
                if example is not None:
                    checked += 1
                    valid += 1
                    assert is_valid_number(example) == phonenumbers.is_valid_number(example) is True, region
    assert checked > 4100 and valid > 500, "both answers are exercised"


def test_phone_normalises_to_e164_using_the_default_region() -> None:
    assert result("phone", "+1 (415) 555-0132") == "+14155550132"
    assert result("phone", "020 7946 0018", default_region="GB") == "+442079460018"
    assert result("phone", "020 7946 0018", default_region="gb") == "+442079460018"


def test_phone_rejects_invalid_numbers_and_explains_a_missing_region() -> None:
    assert rejected("phone", "12345", default_region="US").reason == "invalid phone number"
    assert "default_region" in str(rejected("phone", "020 7946 0018"))
    assert rejected("phone", "call me").reason == "invalid phone number"


def test_phone_region_is_checked_when_the_mapping_loads() -> None:
    with pytest.raises(ValidationError, match="two-letter country code"):
        REGISTRY["phone"].bind({"default_region": "Britain"})


def test_truncate() -> None:
    value, ctx = run("truncate", "abcdef", length=3)
    assert (value, ctx.losses) == ("abc", ["truncated"])
    value, ctx = run("truncate", "abc", length=3)
    assert (value, ctx.losses) == ("abc", [])
    with pytest.raises(ValidationError):
        REGISTRY["truncate"].bind({"length": 0})


def test_first() -> None:
    assert result("first", ["", "a", "b"]) == "a"
    assert result("first", []) is None
    assert result("first", "solo") == "solo"


def test_default_if_empty() -> None:
    assert result("default_if_empty", "  ", default="n/a") == "n/a"
    assert result("default_if_empty", [], default="n/a") == "n/a"
    assert result("default_if_empty", "kept", default="n/a") == "kept"
    with pytest.raises(ValidationError):
        REGISTRY["default_if_empty"].bind({})
