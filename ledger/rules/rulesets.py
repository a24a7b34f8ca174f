"""AO rule sets as TOML data: loading, validation, and the version in force on a date."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

from aggregates.errors import ConfigurationError
from ledger.rules.calendar import DEFAULT_NATION, WorkingCalendar, nation_code

SHIPPED_POLICIES = Path(__file__).parents[1] / "policies"
CENTRES_FILE = "centres.toml"
DEFAULT_RETENTION_YEARS = 3
SEVERITIES = ("minor", "major", "critical")
UNITS = ("calendar", "working")
DATA_QUALITY_CODES = ("name-capitals", "name-initials", "dob-placeholder", "age-implausible")


class RuleSetError(ConfigurationError):
    """A rule-set or centre file is unreadable or breaks the schema; names the file and key."""

    def __init__(self, path: Path, key: str, message: str) -> None:
        super().__init__(f"rule set {path}: {key}: {message}" if key else
                         f"rule set {path}: {message}")
        self.path = path
        self.key = key


Checker = Callable[[Path, str, Any], Any]


def _positive(path: Path, key: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise RuleSetError(path, key, f"must be a positive whole number, not {value!r}")
    return value


def _not_negative(path: Path, key: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RuleSetError(path, key, f"must be a whole number 0 or more, not {value!r}")
    return value


def _unit(path: Path, key: str, value: Any) -> str:
    if value not in UNITS:
        raise RuleSetError(path, key, f"must be one of {', '.join(UNITS)}, not {value!r}")
    return str(value)


def _codes(path: Path, key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(v in DATA_QUALITY_CODES for v in value):
        choices = ", ".join(DATA_QUALITY_CODES)
        raise RuleSetError(path, key, f"must be a list of warning codes ({choices})")
    return list(value)


LRS_FIELD_NAMES = ("given_name", "family_name", "date_of_birth", "gender", "postcode")


def _lrs_fields(path: Path, key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(v in LRS_FIELD_NAMES for v in value):
        choices = ", ".join(LRS_FIELD_NAMES)
        raise RuleSetError(path, key, f"must be a list of LRS fields ({choices})")
    return list(value)


# Each rule kind: its required and optional parameters and how to check them.
RULE_KINDS: dict[str, tuple[dict[str, Checker], dict[str, tuple[Checker, Any]]]] = {
    "late-registration": (
        {"days": _positive, "unit": _unit},
        {"long_days": (_positive, None), "long_unit": (_unit, None),
         "short_max_weeks": (_positive, None)},
    ),
    "persistent-late-registration": ({"count": _positive, "window_months": _positive}, {}),
    "assessment-before-registration": ({}, {}),
    "withdrawal-notification": ({"days": _positive, "unit": _unit}, {}),
    "claim-eligibility": ({}, {}),
    "claim-deadline": ({"days": _positive, "unit": _unit}, {}),
    "certificate-issue": ({"days": _positive, "unit": _unit}, {}),
    "uln-rejected-uncorrected": ({}, {"days": (_not_negative, 0)}),
    "lrs-reverification": ({}, {"fields": (_lrs_fields, None)}),
    "data-quality": ({"codes": _codes}, {}),
}
COMMON_KEYS = {"clause", "severity", "description", "cite"}


@dataclass(frozen=True)
class Rule:
    """One rule of one rule-set version: its id, clause, severity and parameters."""

    id: str
    awarding_body: str
    version: str
    clause: str
    severity: str
    params: dict[str, Any]
    description: str = ""
    source: str = ""
    cited_as: str = ""  # the document as an assessor names it (the version's `cited_as`)
    cite: str = ""  # the clause as an assessor cites it (the rule's `cite`)

    @property
    def reference(self) -> str:
        """How an assessor cites the rule: `IMI registration guidance (issue 10),
        introduction`; without display text in the rule set, `AIM policy-1.0, clause 3.2`."""
        document = self.cited_as or f"{self.awarding_body} {self.version}"
        clause = self.cite or (f"clause {self.clause}" if self.clause[:1].isdigit()
                               else self.clause)
        return f"{document}, {clause}"


@dataclass(frozen=True)
class RuleSetVersion:
    """The rules of one AO from an effective date."""

    awarding_body: str
    version: str
    effective_from: date
    source: str
    rules: dict[str, Rule]
    path: Path


@dataclass(frozen=True)
class CentreSettings:
    """A centre's nation (for bank holidays) and closure days."""

    nation: str = DEFAULT_NATION
    closures: tuple[date, ...] = ()


@dataclass
class RuleBook:
    """Every AO's rule-set versions, and the centres' calendars."""

    versions: dict[str, list[RuleSetVersion]]
    centres: dict[str, CentreSettings] = field(default_factory=dict)
    default_nation: str = DEFAULT_NATION
    retention: dict[str, int] = field(default_factory=dict)
    _calendars: dict[str, WorkingCalendar] = field(default_factory=dict, repr=False)

    @property
    def awarding_bodies(self) -> list[str]:
        return sorted(self.versions)

    def in_force(self, awarding_body: str, on: date) -> RuleSetVersion | None:
        """The AO's rule-set version in force on a date (the programme start), or None."""
        candidates = [v for v in self.versions.get(awarding_body, []) if v.effective_from <= on]
        return candidates[-1] if candidates else None

    def rules_in_force(self, awarding_body: str, on: date) -> dict[str, Rule] | None:
        version = self.in_force(awarding_body, on)
        return None if version is None else version.rules

    def retention_years(self, awarding_body: str | None) -> int:
        """Years the AO's rule set keeps records after an enrolment ends (default 3)."""
        return self.retention.get(awarding_body or "", DEFAULT_RETENTION_YEARS)

    def calendar_for(self, centre: str) -> WorkingCalendar:
        """The working-day calendar of a centre (its nation and closure days)."""
        if centre not in self._calendars:
            settings = self.centres.get(centre, CentreSettings(self.default_nation))
            self._calendars[centre] = WorkingCalendar(settings.nation, settings.closures)
        return self._calendars[centre]


def policy_directories(extra: str | Path | None = None) -> list[Path]:
    """The shipped policies, then --policies or LEDGER_POLICIES (which take precedence)."""
    folders = [SHIPPED_POLICIES]
    chosen = extra or os.environ.get("LEDGER_POLICIES")
    if chosen:
        folder = Path(chosen)
        if not folder.is_dir():
            raise ConfigurationError(f"policies directory {str(folder)!r} does not exist")
        folders.append(folder)
    return folders


def load_rulebook(extra: str | Path | None = None, nation: str | None = None) -> RuleBook:
    """Load every rule set; an AO defined in the extra directory replaces the shipped one."""
    versions: dict[str, list[RuleSetVersion]] = {}
    centres: dict[str, CentreSettings] = {}
    retention: dict[str, int] = {}
    for folder in policy_directories(extra):
        found: dict[str, list[RuleSetVersion]] = {}
        for path in sorted(folder.glob("*.toml")):
            if path.name == CENTRES_FILE:
                centres.update(load_centres(path))
                continue
            rule_file = load_rule_file(path)
            if rule_file.retention_years is not None:
                retention[rule_file.awarding_body] = rule_file.retention_years
            for version in rule_file.versions:
                if version.awarding_body in found and found[version.awarding_body][0].path != path:
                    raise RuleSetError(path, "awarding_body", f"{version.awarding_body} is "
                                       f"also defined in {found[version.awarding_body][0].path}")
                found.setdefault(version.awarding_body, []).append(version)
        versions.update(found)
    default = nation or os.environ.get("LEDGER_NATION") or DEFAULT_NATION
    nation_code(default)
    return RuleBook(versions, centres, default, retention)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise RuleSetError(path, "", f"not valid TOML ({error})") from None
    except OSError as error:
        raise RuleSetError(path, "", f"cannot be read ({error.strerror})") from None


def _require(path: Path, table: dict[str, Any], key: str, prefix: str, kind: type) -> Any:
    if key not in table:
        raise RuleSetError(path, prefix + key, "is missing")
    value = table[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RuleSetError(path, prefix + key, f"must be a {kind.__name__}, not {value!r}")
    return value


@dataclass(frozen=True)
class RuleFile:
    """One AO rule-set file: its versions by effective date and its retention period."""

    awarding_body: str
    versions: list[RuleSetVersion]
    retention_years: int | None


def load_rule_file(path: Path) -> RuleFile:
    """One AO rule-set file, read once and fully validated."""
    data = _read(path)
    body = _require(path, data, "awarding_body", "", str)
    if not body.isalnum() or body.upper() != body:
        raise RuleSetError(path, "awarding_body", f"{body!r} must be an upper-case code")
    unknown = set(data) - {"awarding_body", "name", "versions", "retention"}
    if unknown:
        raise RuleSetError(path, sorted(unknown)[0], "is not a known key")
    raw_versions = _require(path, data, "versions", "", list)
    if not raw_versions:
        raise RuleSetError(path, "versions", "needs at least one [[versions]] table")
    versions = [_load_version(path, body, raw, f"versions[{n}].")
                for n, raw in enumerate(raw_versions)]
    versions.sort(key=lambda v: v.effective_from)
    for earlier, later in pairwise(versions):
        if earlier.effective_from == later.effective_from:
            raise RuleSetError(path, "versions", f"two versions take effect on "
                               f"{later.effective_from.isoformat()}")
    return RuleFile(body, versions, _retention(path, data))


def _retention(path: Path, data: dict[str, Any]) -> int | None:
    """The rule set's `[retention] years_after_end`, or None when it sets none."""
    table = data.get("retention")
    if table is None:
        return None
    if not isinstance(table, dict) or set(table) - {"years_after_end"}:
        raise RuleSetError(path, "retention", "must be a table with years_after_end only")
    years = _require(path, table, "years_after_end", "retention.", int)
    if years < 0:
        raise RuleSetError(path, "retention.years_after_end", f"must not be negative: {years}")
    return years


def _load_version(path: Path, body: str, raw: Any, prefix: str) -> RuleSetVersion:
    if not isinstance(raw, dict):
        raise RuleSetError(path, prefix.rstrip("."), "must be a table")
    version = _require(path, raw, "version", prefix, str)
    effective = _require(path, raw, "effective_from", prefix, date)
    source = _require(path, raw, "source", prefix, str)
    cited_as = str(raw.get("cited_as", ""))
    unknown = set(raw) - {"version", "effective_from", "source", "rules", "cited_as"}
    if unknown:
        raise RuleSetError(path, prefix + sorted(unknown)[0], "is not a known key")
    raw_rules = _require(path, raw, "rules", prefix, dict)
    rules = {
        rule_id: _load_rule(path, body, (version, source, cited_as), rule_id, spec,
                            f"{prefix}rules.{rule_id}.")
        for rule_id, spec in raw_rules.items()
    }
    return RuleSetVersion(body, version, effective, source, rules, path)


def _load_rule(
    path: Path, body: str, of_version: tuple[str, str, str], rule_id: str, spec: Any,
    prefix: str,
) -> Rule:
    version, source, cited_as = of_version
    if rule_id not in RULE_KINDS:
        raise RuleSetError(path, prefix.rstrip("."),
                           f"unknown rule (known: {', '.join(RULE_KINDS)})")
    if not isinstance(spec, dict):
        raise RuleSetError(path, prefix.rstrip("."), "must be a table")
    required, optional = RULE_KINDS[rule_id]
    clause = _require(path, spec, "clause", prefix, str)
    severity = spec.get("severity", "major")
    if severity not in SEVERITIES:
        raise RuleSetError(path, prefix + "severity",
                           f"must be one of {', '.join(SEVERITIES)}, not {severity!r}")
    unknown = set(spec) - COMMON_KEYS - set(required) - set(optional)
    if unknown:
        raise RuleSetError(path, prefix + sorted(unknown)[0], "is not a parameter of this rule")
    params: dict[str, Any] = {}
    for key, check in required.items():
        if key not in spec:
            raise RuleSetError(path, prefix + key, "is missing")
        params[key] = check(path, prefix + key, spec[key])
    for key, (check, default) in optional.items():
        params[key] = check(path, prefix + key, spec[key]) if key in spec else default
    if rule_id == "late-registration":
        _check_long_course(path, prefix, params)
    return Rule(rule_id, body, version, clause, severity, params,
                str(spec.get("description", "")), source, cited_as, str(spec.get("cite", "")))


def _check_long_course(path: Path, prefix: str, params: dict[str, Any]) -> None:
    given = [key for key in ("long_days", "short_max_weeks") if params[key] is not None]
    if len(given) == 1:
        missing = ({"long_days", "short_max_weeks"} - set(given)).pop()
        raise RuleSetError(path, prefix + missing, f"is needed with {given[0]}")
    if params["long_unit"] is None:
        params["long_unit"] = params["unit"]


def load_centres(path: Path) -> dict[str, CentreSettings]:
    """Centre settings: `[centres."NUMBER"]` with `nation` and optional `closures` dates."""
    data = _read(path)
    unknown = set(data) - {"centres"}
    if unknown:
        raise RuleSetError(path, sorted(unknown)[0], "is not a known key")
    result = {}
    for centre, raw in _require(path, data, "centres", "", dict).items():
        prefix = f"centres.{centre}."
        if not isinstance(raw, dict):
            raise RuleSetError(path, prefix.rstrip("."), "must be a table")
        extra = set(raw) - {"nation", "closures"}
        if extra:
            raise RuleSetError(path, prefix + sorted(extra)[0], "is not a known key")
        nation = raw.get("nation", DEFAULT_NATION)
        try:
            nation_code(str(nation))
        except ConfigurationError as error:
            raise RuleSetError(path, prefix + "nation", str(error)) from None
        closures = raw.get("closures", [])
        if not isinstance(closures, list) or not all(
            isinstance(d, date) and not hasattr(d, "hour") for d in closures
        ):
            raise RuleSetError(path, prefix + "closures", "must be a list of dates (2026-12-24)")
        result[str(centre)] = CentreSettings(str(nation), tuple(closures))
    return result


def describe(book: RuleBook) -> Iterable[dict[str, Any]]:
    """One row per AO rule-set version, for listings."""
    for body in book.awarding_bodies:
        for version in book.versions[body]:
            yield {"awarding_body": body, "version": version.version,
                   "effective_from": version.effective_from, "rules": sorted(version.rules),
                   "file": str(version.path)}
