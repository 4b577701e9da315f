"""Data attributes: `GET/POST /data_attributes`, `PUT /data_attributes/{id}`, and conversation attributes by Intercom-Version.

Conversation attributes are listed by `GET /data_attributes?model=conversation` up to 2.15 and made in the UI only
(`SandboxSettings.conversation_attributes` seeds them); 2.16 moves them to `GET/POST /conversations/attributes`
and answers 422 to `model=conversation` (2.16 spec, listDataAttributes and createConversationAttribute).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from deskmigrate.sandbox.api import ApiError, RequestContext, Router, bad_request, not_found
from deskmigrate.sandbox.validation import (
    ARRAY,
    BOOLEAN,
    DATA_TYPES,
    OBJECT,
    STRING,
    check_fields,
    is_valid_attribute_name,
    matches_type,
)
from deskmigrate.sandbox.views import data_attribute_view

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
    moved = has_conversation_attributes_api(ctx)
    if model == "conversation" and moved:
        raise ApiError(422, "parameter_invalid", "model=conversation is no longer supported. Use GET /conversations/attributes instead")
    models = [model] if model else [*MODELS, *([] if moved else ["conversation"])]
    data: list[dict[str, Any]] = []
    for each in models:
        if each == "conversation":
            data.extend(as_data_attribute(a) for a in conversation_attributes(ctx) if include_archived or not a["archived"])
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


# -- conversation attributes ----------------------------------------------------------------------------

DEFAULT_API_VERSION = "2.15"
CONVERSATION_ATTRIBUTES_API = (2, 16)
# Types of conversation attributes as 2.16 names them (conversation_attribute.data_type).
CONVERSATION_TYPES = ("string", "integer", "list", "decimal", "boolean", "datetime", "relationship", "files")
# The data attribute types the config and 2.15's data_attribute use → the conversation attribute type that holds them.
FROM_DATA_TYPE = {"string": "string", "integer": "integer", "float": "decimal", "boolean": "boolean", "date": "datetime",
                  "datetime": "datetime"}
TO_DATA_TYPE = {"decimal": "float", "list": "string", "relationship": "string", "files": "string"}
CREATE_CONVERSATION_FIELDS = {
    "name": STRING, "description": STRING, "data_type": STRING, "required": BOOLEAN, "visible_to_team_ids": ARRAY,
    "multiline": BOOLEAN, "options": ARRAY, "reference": OBJECT,
}


def has_conversation_attributes_api(ctx: RequestContext) -> bool:
    """Whether the request's Intercom-Version has `/conversations/attributes` (2.16+; `Unstable` counts as newest)."""
    version = ctx.headers.get("intercom-version", DEFAULT_API_VERSION)
    try:
        return tuple(int(part) for part in version.split(".")) >= CONVERSATION_ATTRIBUTES_API
    except ValueError:
        return True


def new_conversation_attribute(ctx: RequestContext, name: str, data_type: str, *, description: str = "",
                               labels: list[str] | None = None, multiline: bool = False) -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "id": ctx.db.next_value("data_attribute_id"), "name": name, "description": description, "data_type": data_type,
        "required": False, "visible_to_team_ids": [], "archived": False, "created_at": ctx.now, "updated_at": ctx.now,
        "admin_id": ctx.admin_id,
    }
    if data_type == "string":
        attribute["multiline"] = multiline
    if data_type == "list":
        attribute["options"] = [{"id": str(uuid.uuid4()), "label": label, "archived": False} for label in labels or []]
    ctx.db.put("conversation_attributes", attribute)
    return attribute


def conversation_attributes(ctx: RequestContext) -> list[dict[str, Any]]:
    """Every conversation attribute, archived ones included; those the settings say were made in the UI exist from the start."""
    stored = ctx.db.all("conversation_attributes")
    names = {attribute["name"].lower() for attribute in stored}
    seeded = [new_conversation_attribute(ctx, name, FROM_DATA_TYPE[data_type])
              for name, data_type in (ctx.settings.conversation_attributes or {}).items() if name.lower() not in names]
    return stored + seeded


def as_data_attribute(attribute: dict[str, Any]) -> dict[str, Any]:
    """A conversation attribute as 2.15's `GET /data_attributes?model=conversation` lists it."""
    view = {
        "type": "data_attribute", "id": attribute["id"], "model": "conversation", "name": attribute["name"],
        "full_name": f"custom_attributes.{attribute['name']}", "label": attribute["name"], "description": attribute["description"],
        "data_type": TO_DATA_TYPE.get(attribute["data_type"], attribute["data_type"]), "api_writable": True, "ui_writable": True,
        "messenger_writable": False, "custom": True, "archived": attribute["archived"], "admin_id": attribute["admin_id"],
        "created_at": attribute["created_at"], "updated_at": attribute["updated_at"],
    }
    if attribute["data_type"] == "list":
        view["options"] = [option["label"] for option in attribute["options"] if not option["archived"]]
    return view


def conversation_attribute_view(attribute: dict[str, Any]) -> dict[str, Any]:
    return {"type": "conversation_attribute", **attribute}


def list_conversation_attributes(ctx: RequestContext) -> dict[str, Any]:
    if not has_conversation_attributes_api(ctx):
        raise not_found()
    include_archived = ctx.query.get("include_archived", "false").lower() == "true"
    return {"type": "list", "data": [conversation_attribute_view(a) for a in conversation_attributes(ctx)
                                     if include_archived or not a["archived"]]}


def invalid(message: str, field: str | None = None) -> ApiError:
    """The 2.16 endpoint answers its validation errors with 422 parameter_invalid (its invalid data_type example)."""
    return ApiError(422, "parameter_invalid", message, field)


def create_conversation_attribute(ctx: RequestContext) -> dict[str, Any]:
    if not has_conversation_attributes_api(ctx):
        raise not_found()
    body = ctx.json_object()
    check_fields(body, CREATE_CONVERSATION_FIELDS)
    name = str(body.get("name") or "").strip()
    if not name:
        raise invalid("name is required", field="name")
    if not is_valid_attribute_name(name):
        raise invalid("Your name for this attribute must only contain alphanumeric characters, currency symbols, and hyphens", "name")
    data_type = body.get("data_type")
    if data_type not in CONVERSATION_TYPES:
        raise invalid(f"data_type '{data_type}' is not valid. Allowed types: {', '.join(CONVERSATION_TYPES)}", field="data_type")
    if any(a["name"].lower() == name.lower() for a in conversation_attributes(ctx)):
        raise invalid("A conversation attribute with that name already exists", field="name")
    labels = [str(option.get("label") or "") if isinstance(option, dict) else "" for option in body.get("options") or []]
    if data_type == "list" and (not labels or not all(labels)):
        raise invalid("A list attribute needs options, each with a label", field="options")
    attribute = new_conversation_attribute(ctx, name, data_type, description=str(body.get("description") or ""), labels=labels,
                                           multiline=bool(body.get("multiline")))
    return conversation_attribute_view(attribute)


def conversation_value_fits(attribute: dict[str, Any], value: Any) -> bool:
    data_type = attribute["data_type"]
    if data_type == "list":
        return isinstance(value, str) and value in {o["label"] for o in attribute["options"] if not o["archived"]}
    if data_type == "datetime":
        return matches_type(value, "integer") or (isinstance(value, str) and _is_iso_datetime(value))
    expected = {"string": STRING, "integer": "integer", "decimal": "number", "boolean": BOOLEAN}.get(data_type)
    return expected is None or matches_type(value, expected)


def _is_iso_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def check_conversation_attributes(ctx: RequestContext, changes: Any) -> dict[str, Any]:
    """`custom_attributes` of a conversation update: declared (not archived) attributes only, each value of its type.

    Intercom refuses the others: "Conversation attribute 'bad_attr' does not exist" (2.15 spec; intercom-node #349).
    """
    if not isinstance(changes, dict):
        raise bad_request("custom_attributes must be an object", field="custom_attributes")
    declared = {a["name"]: a for a in conversation_attributes(ctx) if not a["archived"]}
    for name, value in changes.items():
        attribute = declared.get(name)
        if attribute is None:
            raise bad_request(f"Conversation attribute '{name}' does not exist", field=name)
        if value is not None and not conversation_value_fits(attribute, value):
            raise bad_request(f"Conversation attribute '{name}' must be a {attribute['data_type']} value", field=name)
    return changes


def register(router: Router) -> None:
    router.add("GET", "/data_attributes", list_data_attributes)
    router.add("POST", "/data_attributes", create_data_attribute)
    router.add("PUT", "/data_attributes/{id}", update_data_attribute)
    router.add("GET", "/conversations/attributes", list_conversation_attributes)
    router.add("POST", "/conversations/attributes", create_conversation_attribute)
