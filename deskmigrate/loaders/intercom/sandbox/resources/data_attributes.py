"""Data attributes: `GET /data_attributes`, `POST /data_attributes`, `PUT /data_attributes/{id}` with Intercom's name rules."""

from __future__ import annotations

from typing import Any

from deskmigrate.loaders.intercom.sandbox.api import RequestContext, Router, bad_request, not_found
from deskmigrate.loaders.intercom.sandbox.validation import ARRAY, BOOLEAN, DATA_TYPES, STRING, check_fields, is_valid_attribute_name
from deskmigrate.loaders.intercom.sandbox.views import data_attribute_view

MODELS = ("contact", "company")

# (name, full_name, label, data_type, api_writable) of the standard attributes each model has.
STANDARD_ATTRIBUTES: dict[str, list[tuple[str, str, str, str, bool]]] = {
    "contact": [
        ("id", "id", "ID", "string", False),
        ("external_id", "external_id", "User ID", "string", True),
        ("role", "role", "Role", "string", True),
        ("name", "name", "Name", "string", True),
        ("email", "email", "Email", "string", True),
        ("phone", "phone", "Phone", "string", True),
        ("avatar", "avatar", "Avatar", "string", True),
        ("owner_id", "owner_id", "Owner", "integer", True),
        ("created_at", "created_at", "First seen", "date", False),
        ("updated_at", "updated_at", "Updated at", "date", False),
        ("signed_up_at", "signed_up_at", "Signed up", "date", True),
        ("last_seen_at", "last_seen_at", "Last seen", "date", True),
        ("last_replied_at", "last_replied_at", "Last replied", "date", False),
        ("last_contacted_at", "last_contacted_at", "Last contacted", "date", False),
        ("unsubscribed_from_emails", "unsubscribed_from_emails", "Unsubscribed from emails", "boolean", True),
        ("language_override", "language_override", "Language override", "string", True),
        ("city_name", "location_data.city_name", "City", "string", False),
        ("country_name", "location_data.country_name", "Country", "string", False),
        ("browser", "browser", "Browser", "string", False),
        ("os", "os", "OS", "string", False),
    ],
    "company": [
        ("id", "id", "ID", "string", False),
        ("company_id", "company_id", "Company ID", "string", False),
        ("name", "name", "Company name", "string", True),
        ("name", "plan.name", "Plan", "string", False),
        ("id", "plan.id", "Plan ID", "string", False),
        ("size", "size", "Company size", "integer", True),
        ("website", "website", "Company website", "string", True),
        ("industry", "industry", "Company industry", "string", True),
        ("monthly_spend", "monthly_spend", "Monthly Spend", "float", True),
        ("remote_created_at", "remote_created_at", "Company created at", "date", True),
        ("last_request_at", "last_request_at", "Company last seen", "date", False),
        ("user_count", "user_count", "People", "integer", False),
        ("session_count", "session_count", "Company web sessions", "integer", False),
        ("created_at", "created_at", "Created at", "date", False),
        ("updated_at", "updated_at", "Updated at", "date", False),
        ("app_id", "app_id", "App ID", "string", False),
    ],
}

# The plan attribute is named `plan` in request bodies although its standard attribute is `plan.name`.
RESERVED_NAMES = {
    model: {row[0].lower() for row in rows} | {row[1].split(".")[0].lower() for row in rows} for model, rows in STANDARD_ATTRIBUTES.items()
}

CREATE_FIELDS = {
    "name": STRING,
    "model": STRING,
    "data_type": STRING,
    "description": STRING,
    "options": ARRAY,
    "messenger_writable": BOOLEAN,
}
UPDATE_FIELDS = {"description": STRING, "options": ARRAY, "archived": BOOLEAN, "messenger_writable": BOOLEAN}


def standard_attribute_views(model: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "data_attribute",
            "name": name,
            "full_name": full_name,
            "label": label,
            "description": label,
            "data_type": data_type,
            "api_writable": api_writable,
            "ui_writable": False,
            "messenger_writable": True,
            "custom": False,
            "archived": False,
            "model": model,
        }
        for name, full_name, label, data_type, api_writable in STANDARD_ATTRIBUTES[model]
    ]


def list_data_attributes(ctx: RequestContext) -> dict[str, Any]:
    model = ctx.query.get("model")
    if model is not None and model not in (*MODELS, "conversation"):
        raise bad_request("The Data Attribute model field must be either contact or company", field="model")
    include_archived = ctx.query.get("include_archived", "false").lower() == "true"
    models = [model] if model else list(MODELS)
    data: list[dict[str, Any]] = []
    for each in models:
        if each == "conversation":
            continue
        data.extend(standard_attribute_views(each))
        data.extend(
            data_attribute_view(attribute)
            for attribute in ctx.db.all("data_attributes")
            if attribute["model"] == each and (include_archived or not attribute.get("archived"))
        )
    return {"type": "list", "data": data}


def option_values(options: Any) -> list[str]:
    """Options as `[{"value": "a"}, ...]` (the spec's shape) or plain strings; fewer than two is an error."""
    values = []
    for option in options:
        value = option.get("value") if isinstance(option, dict) else option
        if not isinstance(value, str) or not value:
            raise bad_request("Each option must be a non-empty string value", field="options")
        values.append(value)
    if len(values) < 2:
        raise bad_request("You must have at least two options on a list type data attribute", field="options")
    return values


def check_name_is_free(ctx: RequestContext, name: str, model: str) -> None:
    if name.lower() in RESERVED_NAMES[model]:
        raise bad_request(f"'{name}' is one of our standard attributes, you cannot use it as a custom attribute name", field="name")
    for existing in ctx.db.all("data_attributes"):
        if existing["name"].lower() == name.lower():
            wanted = "people" if model == "contact" else "company"
            raise bad_request(
                f"You already have '{existing['name']}' in your {existing['model']} data. To save this as new {wanted} data, use a different name.",
                field="name",
            )


def create_data_attribute(ctx: RequestContext) -> dict[str, Any]:
    body = ctx.json_object()
    check_fields(body, CREATE_FIELDS)
    model = body.get("model")
    if model not in MODELS:
        raise bad_request("The Data Attribute model field must be either contact or company", field="model")
    name = body.get("name")
    if not name:
        raise bad_request("Name can't be blank", "parameter_not_found", field="name")
    if not is_valid_attribute_name(name):
        raise bad_request(
            "Your name for this attribute must only contain alphanumeric characters, currency symbols, and hyphens", field="name"
        )
    check_name_is_free(ctx, name, model)
    data_type = body.get("data_type")
    options: list[str] = []
    # 2.15 documents list attributes both as `string` + options and (like 2.16) as `options` + options.
    if data_type == "options" or body.get("options"):
        options = option_values(body.get("options") or [])
        data_type = "string" if data_type == "options" else data_type
    if data_type not in DATA_TYPES:
        raise bad_request("Data Type isn't an option", field="data_type")
    if options and data_type != "string":
        raise bad_request("Only string attributes can have options", field="options")
    attribute: dict[str, Any] = {
        "id": ctx.db.next_value("data_attribute_id"),
        "name": name,
        "full_name": f"custom_attributes.{name}",
        "label": name,
        "description": body.get("description", ""),
        "data_type": data_type,
        "api_writable": True,
        "ui_writable": False,
        "messenger_writable": bool(body.get("messenger_writable", False)),
        "custom": True,
        "archived": False,
        "admin_id": ctx.admin_id,
        "created_at": ctx.now,
        "updated_at": ctx.now,
        "model": model,
    }
    if options:
        attribute["options"] = options
    ctx.db.put("data_attributes", attribute)
    return data_attribute_view(attribute)


def update_data_attribute(ctx: RequestContext) -> dict[str, Any]:
    attribute = ctx.db.get("data_attributes", ctx.params["id"])
    if attribute is None:
        raise not_found("We couldn't find that data attribute to update", "field_not_found")
    body = ctx.json_object()
    check_fields(body, UPDATE_FIELDS)
    if "options" in body:
        attribute["options"] = option_values(body["options"])
    for key in ("description", "archived", "messenger_writable"):
        if key in body:
            attribute[key] = body[key]
    attribute["updated_at"] = ctx.now
    ctx.db.put("data_attributes", attribute)
    return data_attribute_view(attribute)


def register(router: Router) -> None:
    router.add("GET", "/data_attributes", list_data_attributes)
    router.add("POST", "/data_attributes", create_data_attribute)
    router.add("PUT", "/data_attributes/{id}", update_data_attribute)
