"""ILR codes and how one ILR learning delivery becomes an MIS-export record.

Facts from the ILR specification (guidance.submit-learner-data.service.gov.uk): `Sex` is M or
F; `CompStatus` 1 continuing, 2 completed, 3 withdrawn, 6 break in learning; `Outcome` 1
achieved, 2 partial, 3 no achievement, 8 not yet known; `AimType` 1 is a programme aim
(ZPROG001, the apprenticeship wrapper, no awarding body); `ProgType` 2, 3, 20 to 23 are
apprenticeship frameworks and 25 an apprenticeship standard (with a `StdCode`).
"""

from __future__ import annotations

from ledger.imports.aims import Aim, AimEntry, Unusable
from ledger.imports.problems import RowProblem
from ledger.imports.source import Record

SEX_TO_LRS_GENDER = {"M": "1", "F": "2"}
ULN_NOT_KNOWN = "9999999999"
PROGRAMME_AIM = "1"
APPRENTICESHIP_PROGRAMMES = frozenset({"2", "3", "20", "21", "22", "23", "25"})
COMPLETED, WITHDRAWN = "2", "3"
ACHIEVED = "1"

# WithdrawReason (ILR) -> the ledger's withdrawal reason
WITHDRAW_REASONS = {
    "2": "transferred",  # to another provider
    "7": "transferred",  # between providers by or with the agreement of the ESFA
    "40": "transferred",  # to a new learning aim with the same provider
    "41": "transferred",  # to another provider, for a government strategy
    "47": "transferred",  # to another provider, on a merger
    "3": "cannot-complete",  # injury or illness
    "28": "cannot-complete",  # OLASS learner, circumstances outside the provider's control
    "29": "cannot-complete",  # made redundant
    "42": "cannot-complete",  # academic failure (HE)
    "48": "cannot-complete",  # industry placement, circumstances outside the provider's control
    "43": "requested",  # financial reasons
    "44": "requested",  # other personal reasons
    "45": "no-contact",  # written off after lapse of time (HE)
    "98": "left",  # reason not known
}

# where each MIS column comes from, to name the element in a problem
COLUMN_ELEMENTS = {
    "centre": "LearningProvider/UKPRN",
    "learner": "LearnRefNumber",
    "given_name": "GivenNames",
    "family_name": "FamilyName",
    "date_of_birth": "DateOfBirth",
    "gender": "Sex",
    "postcode": "Postcode",
    "email": "Email",
    "uln": "ULN",
    "enrolment": "LearningDelivery/AimSeqNumber",
    "awarding_body": "LearningDelivery/LearnAimRef",
    "qualification": "LearningDelivery/LearnAimRef",
    "qualification_title": "LearningDelivery/LearnAimRef",
    "programme_start": "LearningDelivery/LearnStartDate",
    "planned_end": "LearningDelivery/LearnPlanEndDate",
    "apprenticeship": "LearningDelivery/ProgType",
    "withdrawal_left": "LearningDelivery/LearnActEndDate",
    "withdrawal_reason": "LearningDelivery/WithdrawReason",
    "learning_completed": "LearningDelivery/LearnActEndDate",
    "achieved": "LearningDelivery/AchDate",
}


def learner_cells(centre: str, learner: dict[str, str]) -> dict[str, str]:
    """The MIS cells of the learner's own details."""
    uln = learner.get("ULN", "")
    sex = learner.get("Sex", "")
    return {
        "centre": centre,
        "learner": learner.get("LearnRefNumber", ""),
        "given_name": learner.get("GivenNames", ""),
        "family_name": learner.get("FamilyName", ""),
        "date_of_birth": learner.get("DateOfBirth", ""),
        "gender": SEX_TO_LRS_GENDER.get(sex.upper(), sex),
        "postcode": learner.get("Postcode", ""),
        "email": learner.get("Email", ""),
        "uln": "" if uln == ULN_NOT_KNOWN else uln,
    }


def is_programme_aim(delivery: dict[str, str]) -> bool:
    return delivery.get("AimType") == PROGRAMME_AIM


def delivery_record(line: int, details: dict[str, str], delivery: dict[str, str],
                    aims: dict[str, AimEntry]) -> Record:
    """One learning delivery as an MIS-export record, with what is wrong in it."""
    problems: list[RowProblem] = []

    def problem(element: str, reason: str) -> None:
        problems.append(RowProblem(line, f"LearningDelivery/{element}", reason))

    reference = delivery.get("LearnAimRef", "").upper()
    entry = aims.get(reference)
    aim = entry if isinstance(entry, Aim) else None
    if isinstance(entry, Unusable):
        problem("LearnAimRef", f"{reference}: {entry}")
    elif entry is None:
        problem("LearnAimRef", f"{reference or '(empty)'} is not in the aims file (--aims): "
                               "add its awarding body, qualification number and title")
    programme = delivery.get("ProgType", "")
    apprenticeship = programme in APPRENTICESHIP_PROGRAMMES or bool(delivery.get("StdCode"))
    cells = {
        **details,
        "enrolment": delivery.get("AimSeqNumber", ""),
        "awarding_body": aim.awarding_body if aim else "",
        "qualification": aim.qualification if aim else "",
        "qualification_title": aim.title if aim else "",
        "programme_start": delivery.get("LearnStartDate", ""),
        "planned_end": delivery.get("LearnPlanEndDate", ""),
        "apprenticeship": "yes" if apprenticeship else "no",
    }
    status = delivery.get("CompStatus", "")
    ended = delivery.get("LearnActEndDate", "")
    if status == WITHDRAWN:
        code = delivery.get("WithdrawReason", "")
        reason = WITHDRAW_REASONS.get(code)
        if not ended:
            problem("LearnActEndDate", "is required when CompStatus is 3 (withdrawn)")
        if reason is None:
            problem("WithdrawReason", f"{code!r} is not a withdrawal reason code "
                                      f"({', '.join(WITHDRAW_REASONS)})" if code else
                    "is required when CompStatus is 3 (withdrawn)")
        cells["withdrawal_left"] = ended
        cells["withdrawal_reason"] = reason or ""
    elif status == COMPLETED:
        cells["learning_completed"] = ended
        if not ended:
            problem("LearnActEndDate", "is required when CompStatus is 2 (completed)")
    if delivery.get("Outcome") == ACHIEVED and delivery.get("AchDate"):
        cells["achieved"] = delivery["AchDate"]
    return Record(line, cells, problems=tuple(problems))
