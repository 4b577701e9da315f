"""The sandbox's Help Center: the rules Intercom enforces on collections and articles, and response shapes from the 2.15 spec."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.conftest import Api
from tests.sandbox.test_sandbox import SPEC_PATH, spec_properties

OWNER = 991267001


def collection(api: Api, name: str, parent_id: str | None = None, **extra: Any) -> dict[str, Any]:
    response = api.post("/help_center/collections", {"name": name, "parent_id": parent_id, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def article_error(api: Api, **body: Any) -> tuple[int, str]:
    response = api.post("/articles", {"title": "T", "author_id": OWNER, **body})
    return response.status_code, response.json()["errors"][0]["message"] if response.status_code != 200 else ""


def test_collections_nest_at_most_three_levels(sandbox_api: Api) -> None:
    top = collection(sandbox_api, "Top")
    middle = collection(sandbox_api, "Middle", top["id"])
    third = collection(sandbox_api, "Third", middle["id"])
    assert third["parent_id"] == middle["id"] and third["help_center_id"] == top["help_center_id"]
    response = sandbox_api.post("/help_center/collections", {"name": "Fourth", "parent_id": third["id"]})
    assert response.status_code == 400 and "3 levels" in response.json()["errors"][0]["message"]
    assert [c["order"] for c in (collection(sandbox_api, "A", top["id"]), collection(sandbox_api, "B", top["id"]))] == [2, 3]


@pytest.mark.parametrize(
    ("src", "accepted"),
    [
        ("/hc/article_attachments/1/a.png", False),  # relative
        ("data:image/png;base64,iVBORw0KGgo=", False),
        ("//cdn.example.com/a.png", False),  # scheme-relative
        ("https://cdn.example.com/a.png", True),
        ("http://127.0.0.1:9/unreachable.png", False),  # a loopback URL is fetched, as Intercom would, and fails
    ],
)
def test_article_images_must_be_absolute_fetchable_urls(sandbox_api: Api, src: str, accepted: bool) -> None:
    status, message = article_error(sandbox_api, body=f'<p><img src="{src}"></p>')
    assert (status == 200) is accepted, message
    if not accepted:
        assert status == 400 and "Image" in message


def test_article_authors_are_teammates_given_by_integer_id(sandbox_api: Api) -> None:
    assert article_error(sandbox_api, author_id="991267001") == (400, "author_id must be an integer")
    assert article_error(sandbox_api, author_id=12345)[0] == 400
    response = sandbox_api.post("/articles", {"title": "No author"})
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "parameter_not_found"


def test_translated_content_only_in_intercom_locales(sandbox_api: Api) -> None:
    ok = sandbox_api.post("/articles", {"title": "T", "author_id": OWNER, "translated_content": {
        "pt-BR": {"type": "article_content", "title": "Olá", "body": "<p>oi</p>", "author_id": OWNER, "state": "published"}}})
    assert ok.status_code == 200 and ok.json()["translated_content"]["pt-BR"]["url"].endswith("/pt-BR/articles/" + ok.json()["id"] + "-ol")  # the slug keeps ASCII only
    status, message = article_error(sandbox_api, translated_content={"zh-HK": {"title": "x"}})
    assert status == 400 and "zh-HK" in message


def test_non_empty_collections_cannot_be_deleted(sandbox_api: Api) -> None:
    top = collection(sandbox_api, "Top")
    article = sandbox_api.post("/articles", {"title": "In it", "author_id": OWNER, "parent_id": int(top["id"]), "parent_type": "collection"}).json()
    assert sandbox_api.delete(f"/help_center/collections/{top['id']}").status_code == 400
    assert sandbox_api.delete(f"/articles/{article['id']}").json() == {"id": article["id"], "object": "article", "deleted": True}
    assert sandbox_api.delete(f"/help_center/collections/{top['id']}").json()["deleted"] is True


@pytest.mark.skipif(not SPEC_PATH.exists(), reason="the Intercom OpenAPI reference is not beside the repository")
def test_help_center_responses_use_only_spec_keys(sandbox_api: Api) -> None:
    spec = yaml.load(SPEC_PATH.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))

    def schema(name: str) -> set[str]:
        return spec_properties(spec, {"$ref": f"#/components/schemas/{name}"})

    top = collection(sandbox_api, "Top", description="d")
    article = sandbox_api.post("/articles", {"title": "T", "author_id": OWNER, "body": "<p>x</p>", "state": "published",
                                             "parent_id": int(top["id"]), "parent_type": "collection",
                                             "translated_content": {"fr": {"title": "Fr", "body": "<p>y</p>"}}}).json()
    checks = [
        ("help center", sandbox_api.get("/help_center/help_centers").json()["data"][0], schema("help_center")),
        ("collection", top, schema("collection")),
        ("article", article, schema("article")),
        ("article content", article["translated_content"]["fr"], schema("article_content")),
        ("deleted collection", sandbox_api.delete(f"/help_center/collections/{collection(sandbox_api, 'X')['id']}").json(),
         schema("deleted_collection_object")),
    ]
    for label, returned, allowed in checks:
        assert set(returned) <= allowed, f"{label} has keys outside the spec: {sorted(set(returned) - allowed)}"
