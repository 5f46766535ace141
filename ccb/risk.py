"""The risk questionnaire and the level computed from it."""

from collections.abc import Iterable

from ccb.choices import Criticality, RiskLevel

QUESTIONS: dict[str, dict] = {
    "customer_facing": {
        "label": "Does the change alter what customers see or use?",
        "choices": {"no": 0, "yes": 3},
    },
    "downtime": {
        "label": "What interruption does it cause?",
        "choices": {"none": 0, "degraded": 2, "outage": 4},
    },
    "data_change": {
        "label": "Does it change or migrate stored data?",
        "choices": {"no": 0, "reversible": 2, "irreversible": 5},
    },
    "blast_radius": {
        "label": "How much of the platform can it affect?",
        "choices": {"one_service": 0, "several_services": 2, "platform": 4},
    },
    "rollback_tested": {
        "label": "Has the rollback been rehearsed in a test environment?",
        "choices": {"yes": 0, "no": 3},
    },
    "precedent": {
        "label": "Has a change like this been made here before?",
        "choices": {"routine": 0, "similar": 1, "first_time": 3},
    },
    "security_sensitive": {
        "label": "Does it touch authentication, secrets or access control?",
        "choices": {"no": 0, "yes": 3},
    },
}
# Upper bounds of the score for each level, lowest first; anything above is critical.
THRESHOLDS = ((3, RiskLevel.LOW), (8, RiskLevel.MEDIUM), (13, RiskLevel.HIGH))


def validate_answers(answers: object) -> dict[str, list[str]]:
    """Field errors for a questionnaire, keyed ``risk_answers.<question>``; empty when valid."""
    if not isinstance(answers, dict):
        return {"risk_answers": ["Expected an object of question: answer."]}
    errors: dict[str, list[str]] = {}
    for key, value in answers.items():
        if key not in QUESTIONS:
            errors[f"risk_answers.{key}"] = [f"Unknown question. Known: {', '.join(QUESTIONS)}."]
        elif value not in QUESTIONS[key]["choices"]:
            choices = ", ".join(QUESTIONS[key]["choices"])
            errors[f"risk_answers.{key}"] = [f"'{value}' is not a valid answer. Choose one of: {choices}."]
    return errors


def unanswered(answers: dict) -> list[str]:
    return [key for key in QUESTIONS if key not in answers]


def compute_level(answers: dict, criticalities: Iterable[str] = ()) -> str:
    score = sum(QUESTIONS[k]["choices"].get(v, 0) for k, v in answers.items() if k in QUESTIONS)
    level = RiskLevel.CRITICAL
    for bound, candidate in THRESHOLDS:
        if score <= bound:
            level = candidate
            break
    # A business-critical service is never a low-risk change.
    if level == RiskLevel.LOW and Criticality.TIER_1 in set(criticalities):
        level = RiskLevel.MEDIUM
    return str(level)
