"""The ATO evaluation: scorers side by side on a labelled login stream."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trustwatch.enrichment.geo import GeoInfo
from trustwatch.enrichment.recorded_geo import RecordedGeo
from trustwatch.errors import ConfigError, InvalidEventError, TrustwatchError
from trustwatch.evaluation.ato import (
    CountryHistoryRule,
    RuleAssessment,
    default_scorers,
    evaluate_logins,
    evaluate_rba,
    evaluate_simulation,
    ssh_section,
)
from trustwatch.events.model import Login
from trustwatch.events.rba import RBA_COLUMNS
from trustwatch.features.context import EventContext
from trustwatch.simulation.logins import LoginSimulationConfig

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def login(n: int, account: str, ip: str, *, success: bool = True) -> Login:
    return Login(
        event_id=f"e{n}",
        ts=T0 + timedelta(minutes=n),
        account=account,
        ip=ip,
        success=success,
    )


class Oracle:
    """Knows the answer: 1 for the logins it is told are attacks."""

    def __init__(self, attacks: set[str]) -> None:
        self.attacks = attacks
        self.seen: list[str] = []

    def assess(self, event: Login, ctx: EventContext) -> RuleAssessment:
        self.seen.append(event.event_id)
        return RuleAssessment(1.0 if event.event_id in self.attacks else 0.0)


class Constant:
    def assess(self, event: Login, ctx: EventContext) -> RuleAssessment:
        return RuleAssessment(0.5)


def stream(legit: int, attacks: dict[str, int]) -> list[tuple[Login, str]]:
    items = [(login(n, f"a{n % 7}", "192.0.2.1"), "legit") for n in range(legit)]
    n = legit
    for kind, count in attacks.items():
        for _ in range(count):
            items.append((login(n, "a1", "198.51.100.9"), kind))
            n += 1
    return items


def test_each_scorer_is_measured_per_kind_and_pooled() -> None:
    items = stream(400, {"naive": 10, "stuffing": 30})
    attack_ids = {e.event_id for e, truth in items if truth != "legit"}
    oracle = Oracle(attack_ids)
    report = evaluate_logins(
        items,
        {"model": oracle, "country_rule": Constant()},
        geo=None,
        kinds=("naive", "stuffing", "targeted"),
        measure_from=None,
        source="test",
        settings={},
    )
    assert oracle.seen == [e.event_id for e, _ in items]  # every login, in order
    assert report.legit == 400 and report.logins == 440
    model, rule = report.scorer("model"), report.scorer("country_rule")
    assert model is not None and rule is not None
    for kind in ("naive", "stuffing", "all"):
        result = model.kind(kind)
        assert result.roc_auc == 1.0
        assert all(c is not None and c.caught == 1.0 for c in result.caught)
        chance = rule.kind(kind).caught
        assert [c.caught for c in chance if c] == pytest.approx([0.01, 0.05])
    assert model.kind("targeted").attacks == 0
    assert model.kind("targeted").caught == (None, None)
    assert model.kind("all").attacks == 40
    assert report.ratio("naive", 0) == pytest.approx(100.0)
    assert report.ratio("targeted", 0) is None


def test_failed_and_warm_up_logins_are_scored_but_not_measured() -> None:
    items = stream(100, {"naive": 5})
    items.append((login(200, "a1", "198.51.100.9", success=False), "naive"))
    oracle = Oracle(set())
    report = evaluate_logins(
        items,
        {"model": oracle},
        geo=None,
        kinds=("naive",),
        measure_from=(T0 + timedelta(minutes=50)).timestamp(),
        source="test",
        settings={},
    )
    assert len(oracle.seen) == 106
    assert report.legit == 50
    model = report.scorer("model")
    assert model is not None and model.kind("naive").attacks == 5


def test_a_truth_that_is_no_kind_is_refused() -> None:
    with pytest.raises(ConfigError, match="phishing"):
        evaluate_logins(
            [(login(1, "a", "192.0.2.1"), "phishing")],
            {"model": Constant()},
            geo=None,
            kinds=("naive",),
            measure_from=None,
            source="test",
            settings={},
        )


def test_a_failing_scorer_names_the_login() -> None:
    class Broken:
        def assess(self, event: Login, ctx: EventContext) -> RuleAssessment:
            if event.event_id == "e3":
                raise ValueError("boom")
            return RuleAssessment(0.0)

    with pytest.raises(TrustwatchError, match="scorer model failed on login e3"):
        evaluate_logins(
            stream(10, {}),
            {"model": Broken()},
            geo=None,
            kinds=("naive",),
            measure_from=None,
            source="test",
            settings={},
        )


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan")])
def test_a_score_outside_the_unit_interval_is_refused(bad: float) -> None:
    class Wild:
        def assess(self, event: Login, ctx: EventContext) -> RuleAssessment:
            return RuleAssessment(bad)

    with pytest.raises(TrustwatchError, match="outside"):
        evaluate_logins(
            stream(3, {}),
            {"model": Wild()},
            geo=None,
            kinds=("naive",),
            measure_from=None,
            source="test",
            settings={},
        )


def test_the_country_rule_learns_from_successes_only() -> None:
    geo = RecordedGeo()
    geo.record("192.0.2.1", GeoInfo("NO", 1, None))
    geo.record("198.51.100.9", GeoInfo("US", 2, None))
    geo.record("203.0.113.5", GeoInfo(None, 3, None))
    rule = CountryHistoryRule()

    def score(event: Login) -> float:
        return rule.assess(event, EventContext(event, geo)).score

    assert score(login(1, "a", "192.0.2.1")) == 1.0  # first login: new
    assert score(login(2, "a", "192.0.2.1")) == 0.0
    assert score(login(3, "a", "198.51.100.9", success=False)) == 1.0
    assert score(login(4, "a", "198.51.100.9")) == 1.0  # the failure taught nothing
    assert score(login(5, "a", "198.51.100.9")) == 0.0
    assert score(login(6, "a", "203.0.113.5")) == 0.0  # unknown country: no call
    abroad = login(7, "b", "198.51.100.9")
    reasons = rule.assess(abroad, EventContext(abroad, geo)).reasons
    assert reasons == ("new country US for this account",)


def test_the_country_rule_forgets_the_least_recent_account() -> None:
    geo = RecordedGeo()
    geo.record("192.0.2.1", GeoInfo("NO", 1, None))
    rule = CountryHistoryRule(max_accounts=2)
    for n, account in enumerate(["a", "b", "a", "c", "a", "b"]):
        event = login(n, account, "192.0.2.1")
        rule.assess(event, EventContext(event, geo))
    again = login(9, "c", "192.0.2.1")
    assert rule.assess(again, EventContext(again, geo)).score == 1.0  # c forgotten


def test_the_default_scorers_are_the_login_risk_model_and_the_rule() -> None:
    scorers, notes = default_scorers()
    assert set(scorers) == {"model", "country_rule"}
    assert type(scorers["model"]).__name__ == "LoginRiskDetector"
    bound = scorers["model"].get_params()["max_accounts"]
    assert notes == (f"model and rule each remember at most {bound:,} accounts",)


def test_a_small_simulation_report_renders_and_serialises() -> None:
    config = LoginSimulationConfig(
        accounts=300,
        days=8.0,
        warmup_days=4.0,
        seed=3,
        naive_per_day=0.02,
        targeted_per_day=0.02,
        stuffing_per_day=0.5,
        stuffing_attempts=(200, 400),
        stuffing_success=0.05,
    )
    report = evaluate_simulation(config)
    assert report.kinds == ("naive", "stuffing", "targeted")
    rule = report.scorer("country_rule")
    assert rule is not None
    assert all(rule.kind(k).attacks > 10 for k in report.kinds)
    text = report.render()
    assert "| naive |" in text and "rule @1%" in text and "model/rule @5%" in text
    assert "Skipped: no datasets folder given" in text
    payload = json.loads(json.dumps(report.to_dict()))
    assert payload["settings"]["accounts"] == 300
    assert set(payload["model_over_rule"]) == {"naive", "stuffing", "targeted", "all"}


@pytest.mark.slow
def test_the_model_beats_the_country_rule_by_freemans_margin_at_one_percent() -> None:
    report = evaluate_simulation()
    if report.scorer("model") is None:
        pytest.skip("the login risk model is not installed")
    ratio = report.ratio("all", 0)
    assert ratio is not None and ratio >= 1.7


HEADER = ",".join(RBA_COLUMNS)


def rba_row(index: int, user: int, ip: str, country: str, takeover: bool) -> str:
    ts = T0 + timedelta(minutes=index)
    return (
        f"{index},{ts:%Y-%m-%d %H:%M:%S}.000,{user},,{ip},{country},-,-,29695,"
        f'"Mozilla/5.0 (X11; Linux x86_64; rv:144.0) Gecko/20100101 Firefox/144.0",'
        f"Firefox 144.0,Linux,desktop,True,False,{takeover}"
    )


def rba_file(tmp_path: Path) -> Path:
    lines = [HEADER]
    for index in range(60):
        user = index % 2
        lines.append(rba_row(index, user, f"10.0.0.{user + 1}", "NO", False))
    lines += [
        rba_row(60, 0, "10.9.9.9", "US", True),
        rba_row(61, 1, "10.9.9.8", "SE", True),
    ]
    lines.append("62,not a time,1,,10.0.0.1,NO,-,-,1,ua,b,o,desktop,True,False,False")
    path = tmp_path / "rba.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_rba_file_is_evaluated_with_its_own_geo(tmp_path: Path) -> None:
    report = evaluate_rba(
        rba_file(tmp_path), scorers={"country_rule": CountryHistoryRule()}
    )
    assert report.legit == 60 and report.logins == 62
    assert report.dead_letters == {"timestamp": 1}
    rule = report.scorer("country_rule")
    assert rule is not None
    takeovers = rule.kind("account_takeover")
    assert takeovers.attacks == 2 and rule.kind("attack_ip").attacks == 0
    # Two of 60 legit logins are first logins (new country) and tie with the
    # takeovers at 1: a 1% budget covers 0.6 of them, 5% covers both.
    at_one, at_five = takeovers.caught
    assert at_one is not None and at_one.caught == pytest.approx(0.3)
    assert at_five is not None and at_five.caught == 1.0
    assert "Unreadable rows" in report.render() and "timestamp: 1" in report.render()


def test_the_rba_limit_stops_reading(tmp_path: Path) -> None:
    report = evaluate_rba(
        rba_file(tmp_path), scorers={"country_rule": CountryHistoryRule()}, limit=10
    )
    assert report.logins == 10


def test_an_rba_file_that_is_not_one_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    with pytest.raises(InvalidEventError, match="RBA dataset header"):
        evaluate_rba(path)
    only_bad = tmp_path / "bad.csv"
    only_bad.write_text(HEADER + "\n1,2\n", encoding="utf-8")
    with pytest.raises(InvalidEventError, match="no row"):
        evaluate_rba(only_bad)
    with pytest.raises(ConfigError, match="limit"):
        evaluate_rba(path, limit=0)


def test_the_ssh_section_says_why_it_was_skipped(tmp_path: Path) -> None:
    assert ssh_section(None).skipped == "no datasets folder given (--datasets)"


def test_a_datasets_folder_asked_for_but_unusable_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="absent"):
        ssh_section(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="cannot run on"):
        ssh_section(tmp_path)  # a folder without the SSH logs


@pytest.mark.datasets
def test_the_ssh_section_reports_precision_and_recall(datasets_dir: Path) -> None:
    section = ssh_section(datasets_dir)
    assert section.skipped is None, section.skipped
    assert section.result is not None and section.text is not None
    assert "precision" in section.text and "recall" in section.text
