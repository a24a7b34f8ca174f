"""AO rule sets as TOML data: loading, validation, and the version in force on a date."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

from aggregates.errors import ConfigurationError
from ledger.rules.calendar import DEFAULT_NATION, WorkingCalendar, nation_code

SHIPPED_POLICIES = Path(__file__).parents[1] / "policies"
CENTRES_FILE = "centres.toml"
LEDGER_FILE = "ledger.toml"  # the ledger's own rules, for every awarding body
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


CLAIM_CONDITIONS = ("iqa-sign-off", "registration-confirmed", "not-withdrawn",
                    "units-complete", "eqa-sampling")


def _conditions(path: Path, key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(v in CLAIM_CONDITIONS for v in value):
        choices = ", ".join(CLAIM_CONDITIONS)
        raise RuleSetError(path, key, f"must be a list of claim conditions ({choices})")
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
    "claim-eligibility": ({}, {"requires": (_conditions, list(CLAIM_CONDITIONS[:3]))}),
    "uln-apprenticeship": ({}, {}),
    "registration-check": ({"days": _positive, "unit": _unit}, {}),
    "certificate-uncollected": ({"months": _positive}, {}),
    "claim-deadline": ({"days": _positive, "unit": _unit}, {}),
    "certificate-issue": ({"days": _positive, "unit": _unit}, {}),
    "uln-rejected-uncorrected": ({}, {"days": (_not_negative, 0)}),
    "lrs-reverification": ({}, {"fields": (_lrs_fields, None)}),
    "data-quality": ({"codes": _codes}, {}),
}
COMMON_KEYS = {"clause", "severity", "description", "quote", "seed", "source", "cite"}
# A rule's `source`, when it is not the awarding body's document: how findings cite it.
RULE_SOURCES = ("centre policy", "ledger consistency rule")


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
    quote: str = ""
    seed: str = ""
    basis: str = ""
    cited_as: str = ""  # the document as an assessor names it (the version's `cited_as`)
    cite: str = ""  # the clause as an assessor cites it (the rule's `cite`)

    @property
    def reference(self) -> str:
        """How an assessor cites the rule: `IMI registration guidance (issue 10),
        introduction`; without display text in the rule set, `AIM policy-1.0, clause 3.2`;
        `centre policy: ...` or `ledger consistency rule: ...` for a rule that is not the
        awarding body's (its `source` in the TOML)."""
        clause = self.cite or (f"clause {self.clause}" if self.clause[:1].isdigit()
                               else self.clause)
        if self.basis:
            return f"{self.basis}: {clause}"
        document = self.cited_as or f"{self.awarding_body} {self.version}"
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
    common: dict[str, Rule] = field(default_factory=dict)
    default_retention_years: int | None = None  # ledger.toml: retention.learner-record
    at_risk_working_days: int = 0  # ledger.toml: reports.at_risk_working_days
    record_retention: dict[str, dict[str, Any]] = field(default_factory=dict)
    conventions: dict[str, str] = field(default_factory=dict)  # how deadlines are counted
    _calendars: dict[str, WorkingCalendar] = field(default_factory=dict, repr=False)
    _common_by_body: dict[str, dict[str, Rule]] = field(default_factory=dict, repr=False)

    @property
    def awarding_bodies(self) -> list[str]:
        return sorted(self.versions)

    def in_force(self, awarding_body: str, on: date) -> RuleSetVersion | None:
        """The AO's rule-set version in force on a date (the programme start), or None."""
        candidates = [v for v in self.versions.get(awarding_body, []) if v.effective_from <= on]
        return candidates[-1] if candidates else None

    def rules_in_force(self, awarding_body: str, on: date) -> dict[str, Rule] | None:
        """The AO's rules in force on a date over the ledger's own rules (which apply to
        every awarding body, with or without a rule set); None when there are neither."""
        version = self.in_force(awarding_body, on)
        common = self.common_rules(awarding_body)
        if version is None:
            return common or None
        return {**common, **version.rules} if common else version.rules

    def has_rule_set(self, awarding_body: str) -> bool:
        """Whether the awarding body has a rule set of its own (in any version)."""
        return awarding_body in self.versions

    def common_rules(self, awarding_body: str) -> dict[str, Rule]:
        """The ledger's own rules, as they apply to an awarding body's enrolments."""
        if awarding_body not in self._common_by_body:
            self._common_by_body[awarding_body] = {
                rule_id: replace(rule, awarding_body=awarding_body)
                for rule_id, rule in self.common.items()}
        return self._common_by_body[awarding_body]

    def retention_years(self, awarding_body: str | None) -> int:
        """Years the AO's rule set keeps records after an enrolment ends; else the centre's
        policy for the learner record (ledger.toml's `[retention.learner-record]`)."""
        years = self.retention.get(awarding_body or "", self.default_retention_years)
        if years is None:
            raise ConfigurationError("no retention period: ledger.toml sets no "
                                     "[retention.learner-record] years_after_end")
        return years

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


def default_rulebook(extra: str | Path | None = None) -> RuleBook:
    """The rule book a report reads when given no --nation (and no --policies, unless
    `extra`): the shipped rule sets, with LEDGER_POLICIES's (or `extra`'s) and LEDGER_NATION."""
    return load_rulebook(extra or os.environ.get("LEDGER_POLICIES") or None,
                         os.environ.get("LEDGER_NATION") or None)


def load_rulebook(extra: str | Path | None = None, nation: str | None = None) -> RuleBook:
    """Load every rule set; an AO defined in the extra directory replaces the shipped one."""
    versions: dict[str, list[RuleSetVersion]] = {}
    centres: dict[str, CentreSettings] = {}
    retention: dict[str, int] = {}
    ledger_data: LedgerData | None = None
    for folder in policy_directories(extra):
        found: dict[str, list[RuleSetVersion]] = {}
        for path in sorted(folder.glob("*.toml")):
            if path.name == CENTRES_FILE:
                centres.update(load_centres(path))
                continue
            if path.name == LEDGER_FILE:
                ledger_data = load_ledger_data(path)
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
    if ledger_data is None:
        raise ConfigurationError(f"no {LEDGER_FILE} among the policies: the ledger's own "
                                 "rules and reference data are missing")
    return RuleBook(versions, centres, default, retention, ledger_data.rules,
                    ledger_data.learner_record_years, ledger_data.at_risk_working_days,
                    ledger_data.record_retention, ledger_data.conventions)


@dataclass(frozen=True)
class LedgerData:
    """The ledger's own rules and settings (`ledger.toml`), for every awarding body."""

    rules: dict[str, Rule]
    learner_record_years: int
    at_risk_working_days: int
    record_retention: dict[str, dict[str, Any]]
    conventions: dict[str, str]


# `data-quality` and `vocabulary` are the domain's reference data: aggregates/reference.py
# reads and checks them.
LEDGER_KEYS = {"version", "source", "rules", "reports", "retention", "data-quality",
               "vocabulary", "conventions"}


def load_ledger_data(path: Path) -> LedgerData:
    """The ledger's own rules (each applies to every awarding body), its retention of each
    kind of record, and its reports' settings, from `ledger.toml`."""
    data = _read(path)
    unknown = set(data) - LEDGER_KEYS
    if unknown:
        raise RuleSetError(path, sorted(unknown)[0], "is not a known key")
    version = _require(path, data, "version", "", str)
    source = _require(path, data, "source", "", str)
    raw_rules = _require(path, data, "rules", "", dict)
    rules = {rule_id: _load_rule(path, "*", (version, source, ""), rule_id, spec,
                                 f"rules.{rule_id}.")
             for rule_id, spec in raw_rules.items()}
    reports = _require(path, data, "reports", "", dict)
    at_risk = _not_negative(path, "reports.at_risk_working_days",
                            reports.get("at_risk_working_days"))
    kinds = _require(path, data, "retention", "", dict)
    for kind, spec in kinds.items():
        if not isinstance(spec, dict):
            raise RuleSetError(path, f"retention.{kind}", "must be a table")
        _not_negative(path, f"retention.{kind}.years_after_end", spec.get("years_after_end"))
    if "learner-record" not in kinds:
        raise RuleSetError(path, "retention.learner-record", "is missing")
    conventions = _require(path, data, "conventions", "", dict)
    if not all(isinstance(text, str) for text in conventions.values()):
        raise RuleSetError(path, "conventions", "must give each convention as text")
    return LedgerData(rules, kinds["learner-record"]["years_after_end"], at_risk, kinds,
                      conventions)


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
    texts = {key: spec.get(key, "") for key in ("description", "quote", "seed", "source", "cite")}
    for key, value in texts.items():
        if not isinstance(value, str):
            raise RuleSetError(path, prefix + key, f"must be text, not {value!r}")
    if texts["source"] and texts["source"] not in RULE_SOURCES:
        raise RuleSetError(path, prefix + "source",
                           f"must be one of {', '.join(RULE_SOURCES)}, not {texts['source']!r}")
    return Rule(rule_id, body, version, clause, severity, params, texts["description"],
                source, texts["quote"], texts["seed"], texts["source"], cited_as, texts["cite"])


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


def rule_rows(book: RuleBook) -> Iterable[dict[str, Any]]:
    """One row per rule of every version, then the ledger's own rules: what `ledger rules`
    lists (the clause a finding cites, and the seed's words that support it)."""
    for body in book.awarding_bodies:
        for version in book.versions[body]:
            for rule in version.rules.values():
                yield _rule_row(rule, body, version.effective_from)
    for rule in book.common.values():
        yield _rule_row(rule, "every awarding body", None)


def _rule_row(rule: Rule, body: str, effective_from: date | None) -> dict[str, Any]:
    return {"awarding_body": body, "version": rule.version, "effective_from": effective_from,
            "rule": rule.id, "severity": rule.severity, "document": rule.cited_as or None,
            "cited": rule.reference,
            "clause": rule.clause, "source": rule.basis or rule.source, "seed": rule.seed,
            "quote": rule.quote, "description": rule.description, "params": rule.params}
