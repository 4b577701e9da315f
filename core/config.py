"""The config file: YAML validated by pydantic, `${ENV}` references for secrets, every problem with its line."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from deskmigrate.core.errors import ConfigError, Problem
from deskmigrate.core.yamlfile import LocatedYaml, YamlSyntaxError, load_yaml_file

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

REGION_BASE_URLS = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceSection(BaseModel):
    """Only `type` is checked here; the connector's own config model validates the rest."""

    model_config = ConfigDict(extra="allow")
    type: str


class TargetConfig(Strict):
    type: Literal["intercom", "sandbox"]
    token: SecretStr | None = Field(None, description="the access token of one private app")
    tokens: list[SecretStr] | None = Field(
        None, description="instead of token: one access token per private app of the same workspace, to use the workspace's whole rate budget"
    )
    workspace_rate_limit: int = Field(
        25_000, gt=0, description="calls a minute the workspace allows across all its apps; the tokens' calls together stay under it"
    )
    region: Literal["us", "eu", "au"] = "us"
    base_url: str | None = None
    version: str = "2.15"
    timeout_s: float = Field(30.0, gt=0)
    # sandbox only: where it persists, and the Intercom behaviour it emulates
    path: Path | None = None
    rate_limit: int | None = Field(None, gt=0, description="calls allowed per 10-second window")
    latency_ms: float = Field(0.0, ge=0)
    error_rate: float = Field(0.0, ge=0, le=1)
    drop_rate: float = Field(0.0, ge=0, le=1)
    search_delay_s: float = Field(2.0, ge=0)
    fault_seed: int | None = None
    conversation_attributes: dict[str, Literal["string", "integer", "float", "boolean", "date", "datetime"]] = Field(
        default_factory=dict, description="sandbox only: conversation attributes the workspace already has, as if made in the UI (name: type)"
    )

    @field_validator("token")
    @classmethod
    def _token_given(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("the token is empty: set it, e.g. token: ${INTERCOM_TOKEN}, and export INTERCOM_TOKEN")
        return value

    @field_validator("tokens")
    @classmethod
    def _tokens_given(cls, values: list[SecretStr] | None) -> list[SecretStr] | None:
        if values is None:
            return None
        if not values:
            raise ValueError("the list is empty: give one token per private app, e.g. tokens: [${INTERCOM_TOKEN_A}, ${INTERCOM_TOKEN_B}]")
        problems = [f"token {position} is empty" for position, value in enumerate(values, start=1) if not value.get_secret_value().strip()]
        first_seen: dict[str, int] = {}
        for position, value in enumerate(values, start=1):
            text = value.get_secret_value().strip()
            if text and text in first_seen:
                problems.append(f"tokens {first_seen[text]} and {position} are the same token (each must be a different private app's)")
            first_seen.setdefault(text, position)
        if problems:
            raise ValueError("; ".join(problems))
        return values

    @model_validator(mode="after")
    def _one_way_to_give_tokens(self) -> TargetConfig:
        if self.token is None and self.tokens is None:
            raise ValueError("no token: give token: ${INTERCOM_TOKEN}, or tokens: [${TOKEN_A}, ${TOKEN_B}] for several private apps")
        if self.token is not None and self.tokens is not None:
            raise ValueError("both token and tokens are set: give one token as token, or every token (that one too) as tokens")
        return self

    def workspace_cap(self) -> int | None:
        """Calls a minute the client holds its tokens' sum to: with several tokens, or when the config sets it (one app
        alone never reaches Intercom's 25,000, so a single token is left as it always ran)."""
        several = self.tokens is not None and len(self.tokens) > 1
        return self.workspace_rate_limit if several or "workspace_rate_limit" in self.model_fields_set else None

    def access_tokens(self) -> list[str]:
        """Every configured token, in the config's order (a single `token` is a list of one)."""
        given = self.tokens if self.tokens is not None else [self.token] if self.token is not None else []
        return [value.get_secret_value() for value in given]

    @field_validator("version")
    @classmethod
    def _supported_version(cls, value: str) -> str:
        match = re.fullmatch(r"2\.(\d+)", value)
        if not match or int(match.group(1)) < 15:
            raise ValueError("Intercom-Version must be 2.15 or newer (skip_notifications, find_by_external_id)")
        return value

    def api_base_url(self) -> str | None:
        """The base URL for a real Intercom target; a sandbox gets its URL when it starts."""
        if self.base_url:
            return self.base_url.rstrip("/")
        return REGION_BASE_URLS[self.region] if self.type == "intercom" else None


class HelpCenterConfig(Strict):
    """`load.help_center`: where collections and articles go, and how they arrive."""

    help_center: str | None = Field(None, description="the target help center's id, identifier or display name; default: the first")
    state: Literal["source", "draft", "published"] = Field("source", description="draft: import everything as draft first")
    default_locale: str = Field("en", description="the Intercom Help Center's default language; the main article content goes there")
    locales: list[str] | None = Field(None, description="languages enabled in the Intercom Help Center; default: every one Intercom supports")
    asset_dir: Path | None = Field(None, description="where files behind the source's login are saved; default <state>/help_center_assets")
    asset_base_url: str | None = Field(None, description="the public URL asset_dir is served at; without it such files are listed, not linked")


class LoadConfig(Strict):
    concurrency: int = Field(8, ge=1, le=64)
    tag_batch_size: int = Field(50, ge=1, le=500)
    max_attempts: int = Field(6, ge=1, le=20)
    retry_deadline_s: float = Field(300.0, gt=0)
    fallback_admin_email: str | None = Field(
        None, description="the Intercom admin who authors what an unmatched source agent wrote; default: the token's admin"
    )
    strict_agents: bool = Field(False, description="stop before loading when a source agent has no Intercom admin with its email")
    strict_attributes: bool = Field(
        False, description="stop before loading when a conversation attribute the mapping writes is missing and cannot be created by API (2.15)"
    )
    help_center: HelpCenterConfig = Field(default_factory=HelpCenterConfig)
    max_rejected: RejectionLimit = Field(
        default_factory=lambda: RejectionLimit(percent=5.0),
        description="per entity, the rejected records (by the mapping or the source) a run or load accepts before its first "
                    "write: a share of those read (5%) or a number of records; more stops it (--accept-rejections goes on)",
    )
    keep_intercom_edits: bool = Field(
        True, description="before a delta updates a contact or company deskmigrate wrote, read it and leave out the fields changed "
                          "in Intercom since (one read per update); false: the source's values overwrite them"
    )
    on_duplicate_email: Literal["merge", "reject_later"] = Field(
        "merge",
        description="source contacts sharing one email (Intercom keeps user emails unique): merge into one contact, "
                    "the newest record's fields winning, or leave the later ones out (reported)",
    )


class RejectionLimit(BaseModel):
    """How many rejected records of one entity a load accepts: a share of those read ("5%") or a number of records."""

    model_config = ConfigDict(frozen=True)
    percent: float | None = None
    records: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("a share such as 5% or a number of records such as 200")
        if isinstance(value, (int, float)):
            if value < 0 or value != int(value):
                raise ValueError("a number of records must be a whole number, 0 or more (a share is written with %, e.g. 5%)")
            return {"records": int(value)}
        if isinstance(value, str):
            text = value.strip()
            number = text[:-1].strip() if text.endswith("%") else text
            try:
                amount = float(number)
            except ValueError:
                raise ValueError("a share such as 5% or a number of records such as 200") from None
            if text.endswith("%"):
                if not 0 <= amount <= 100:
                    raise ValueError("a share between 0% and 100%")
                return {"percent": amount}
            return cls._from_text(amount)
        return value

    def allowed(self, read: int) -> int:
        """The most rejected records accepted among `read`."""
        if self.records is not None:
            return self.records
        return int(read * (self.percent or 0.0) / 100)

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else f"{self.records} records"


class PlanConfig(Strict):
    """`plan`: how many plans the state folder keeps and how many processes map records."""

    keep: int = Field(5, ge=1, le=1000, description="the newest plans kept under <state>/plans/ (each holds every payload)")
    workers: int | None = Field(None, ge=1, le=64, description="processes mapping records; default: one per CPU (up to 8)")


class DefaultsConfig(Strict):
    """`defaults`: how to read values the source writes without saying (phone numbers without +country, 03/04/2021)."""

    phone_region: str | None = Field(
        None, description="two-letter country for phone numbers without +country, when neither the rule nor the record says"
    )
    dayfirst: bool = Field(False, description="read 03/04/2021 as 3 April when a column's values do not show the order")

    @field_validator("phone_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"[A-Za-z]{2}", value.strip()):
            raise ValueError("a two-letter country code such as US, GB, DE")
        return value.strip().upper()


class Config(Strict):
    source: SourceSection
    target: TargetConfig
    mapping: str | None = None
    overrides: list[Path] = Field(default_factory=list)
    state: Path = Path(".deskmigrate")
    load: LoadConfig = Field(default_factory=LoadConfig)
    defaults: DefaultsConfig = Field(default_factory=DefaultsConfig)
    plan: PlanConfig = Field(default_factory=PlanConfig)

    @field_validator("overrides", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, (str, Path)) else value


class LoadedConfig(BaseModel):
    """A validated config plus what is needed to report on it later."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    config: Config
    located: LocatedYaml
    base_dir: Path
    secrets: list[str] = Field(default_factory=list)

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.base_dir / path)


def interpolate_env(value: Any, located: LocatedYaml, path: tuple[Any, ...], problems: list[Problem], secrets: list[str]) -> Any:
    """Replace `${VAR}` (or `${VAR:-default}`) everywhere; a missing variable is a problem naming it."""
    if isinstance(value, dict):
        return {k: interpolate_env(v, located, path + (k,), problems, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate_env(v, located, path + (i,), problems, secrets) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = os.environ.get(name)
        if found is None and default is None:
            problems.append(located.problem(path, f"environment variable {name} is not set"))
            return ""
        result = found if found is not None else default or ""
        if found is not None and len(found) >= 8:
            secrets.append(found)
        return result

    return ENV_REFERENCE.sub(substitute, value)


M = TypeVar("M", bound=BaseModel)


def validate_section(model: type[M], data: Any, located: LocatedYaml, prefix: tuple[Any, ...] = ()) -> tuple[M | None, list[Problem]]:
    """Validate `data` against `model`, turning every pydantic error into a located Problem."""
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, problems_from_validation(exc, located, prefix)


def problems_from_validation(exc: ValidationError, located: LocatedYaml, prefix: tuple[Any, ...] = ()) -> list[Problem]:
    problems = []
    for error in exc.errors():
        loc = prefix + tuple(error["loc"])
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        problems.append(located.problem(loc, message))
    return problems


ExtraCheck = Callable[[dict[str, Any], LocatedYaml, Path], list[Problem]]


def load_config(path: Path, extra_check: ExtraCheck | None = None) -> LoadedConfig:
    """Read, interpolate and validate a config file; raise ConfigError listing every problem.

    `extra_check` sees the interpolated data even when the core schema fails, so the sections the
    core does not know (the source's own keys, the mapping) are reported in the same error.
    """
    try:
        located = load_yaml_file(path)
    except YamlSyntaxError as exc:
        raise ConfigError([exc.problem]) from None
    if not isinstance(located.data, dict):
        raise ConfigError([located.problem((), "the config must be a mapping of keys")])
    problems: list[Problem] = []
    secrets: list[str] = []
    data = interpolate_env(located.data, located, (), problems, secrets)
    config, validation_problems = validate_section(Config, data, located)
    problems.extend(validation_problems)
    if extra_check is not None:
        problems.extend(extra_check(data, located, path.resolve().parent))
    if problems or config is None:
        raise ConfigError(problems)
    secrets.extend(token for token in config.target.access_tokens() if token)
    return LoadedConfig(config=config, located=located, base_dir=path.resolve().parent, secrets=sorted(set(secrets), key=len, reverse=True))
