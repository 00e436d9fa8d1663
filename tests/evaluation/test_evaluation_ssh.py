"""The credential-attack detector measured on SSH logins: small files and real data."""

import json
from pathlib import Path

import pytest

from trustwatch.devdata.feeds import COWRIE_SESSIONS, LEGIT_SESSIONS, OPENSSH_LOG
from trustwatch.errors import ConfigError
from trustwatch.evaluation.ssh import evaluate_ssh

SESSION_HEAD = (
    "session_id,start_time,end_time,duration,src_ip,src_port,dst_port,protocol,"
    "total_connexion,login_success,login_failed,avg_time_between_failed,"
    "is_business_hours,label\n"
)


def session(sid, ip, *, failed, succeeded, gap, label):
    start = "2025-02-18T05:25:41Z"
    return (
        f"{sid},{start},{start},1.0,{ip},40000,22,ssh,1,{succeeded},{failed},"
        f"{gap},False,{label}\n"
    )


def write_small_datasets(root: Path) -> Path:
    """An SSH log and session tables written by the test, not copied from data."""
    log = []
    for n in range(12):  # 12 failures in 2 minutes: the rule's attacker
        log.append(
            f"Dec 10 07:{n // 6:02d}:{(n % 6) * 10:02d} host sshd[{100 + n}]: "
            f"Failed password for root from 203.0.113.10 port {4000 + n} ssh2"
        )
    for n in range(2):  # 2 failures: below the rule
        log.append(
            f"Dec 10 08:00:{n:02d} host sshd[{200 + n}]: Failed password for "
            f"invalid user guest from 203.0.113.20 port {5000 + n} ssh2"
        )
    log.append(
        "Dec 10 09:00:00 host sshd[300]: Accepted password for alice from "
        "198.51.100.30 port 6000 ssh2"
    )
    (root / OPENSSH_LOG).parent.mkdir(parents=True)
    (root / OPENSSH_LOG).write_text("\n".join(log) + "\n", encoding="utf-8")

    (root / COWRIE_SESSIONS).parent.mkdir(parents=True)
    (root / COWRIE_SESSIONS).write_text(
        SESSION_HEAD
        + session("c1", "192.0.2.1", failed=15, succeeded=0, gap=1.0, label=0)
        + session("c2", "192.0.2.2", failed=1, succeeded=0, gap=0, label=0)
        + session("c3", "192.0.2.3", failed=0, succeeded=0, gap=0, label=0),
        encoding="utf-8",
    )
    (root / LEGIT_SESSIONS).write_text(
        SESSION_HEAD
        + session("l1", "198.51.100.40", failed=0, succeeded=1, gap=0, label=1),
        encoding="utf-8",
    )
    return root


@pytest.fixture
def small(tmp_path):
    return evaluate_ssh(write_small_datasets(tmp_path))


def test_openssh_row_counts_sources_by_the_open_rule(small):
    row = small.row("openssh")
    assert (row.true_positives, row.false_positives) == (1, 0)
    assert (row.false_negatives, row.true_negatives) == (0, 2)
    assert (row.precision, row.recall) == (1.0, 1.0)
    assert row.flagged_by_kind == {"brute_force": 1}
    assert row.median_attempts_to_flag == 10.0
    assert row.events == 15
    assert row.circularity.startswith("circular")


def test_honeypot_row_labels_by_table_membership(small):
    row = small.row("honeypot")
    # c3 made no login attempt: not in the population
    assert row.sources == 3 and row.attackers == 2
    assert (row.true_positives, row.false_negatives) == (1, 1)
    assert (row.false_positives, row.true_negatives) == (0, 1)
    assert row.recall == 0.5 and row.precision == 1.0
    buckets = {b.failures: (b.attackers, b.flagged) for b in row.by_attempts}
    assert buckets["1"] == (1, 0) and buckets["10-49"] == (1, 1)
    assert row.circularity.startswith("not circular")


def test_render_states_rules_and_figures_in_text_and_markdown(small):
    text = small.render()
    assert "openssh   3        1          1" in text
    assert "Failed password' attempts" in text
    assert "labels against the detector: circular" in text
    markdown = small.render("markdown")
    assert "| data | sources | attackers |" in markdown
    assert "| honeypot | 3 | 2 | 1 | 1 | 0 | 1 | 1.000 | 0.500 |" in markdown
    with pytest.raises(ConfigError):
        small.render("html")  # type: ignore[arg-type]


def test_to_dict_is_plain_json_with_rates(small):
    data = json.loads(json.dumps(small.to_dict()))
    assert data["detector"]["name"] == "credential_attacks"
    assert data["networks"] == "/24 or /64 prefix"
    rows = {row["dataset"]: row for row in data["rows"]}
    assert rows["honeypot"]["recall"] == 0.5
    assert rows["openssh"]["by_attempts"][3]["recall"] == 1.0


def test_parameters_reach_the_detector(tmp_path):
    result = evaluate_ssh(
        write_small_datasets(tmp_path), params={"brute_force_failures": 20}
    )
    assert result.row("openssh").true_positives == 0
    assert result.detector["params"]["brute_force_failures"] == 20


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not a folder"):
        evaluate_ssh(tmp_path / "absent")
    with pytest.raises(ConfigError, match="cannot read"):
        evaluate_ssh(tmp_path)
    with pytest.raises(ConfigError, match="bad detector parameters"):
        evaluate_ssh(write_small_datasets(tmp_path), params={"threshold": 3})


@pytest.mark.datasets
def test_real_ssh_data(datasets_dir):
    result = evaluate_ssh(datasets_dir)
    openssh, honeypot = result.row("openssh"), result.row("honeypot")
    for row in (openssh, honeypot):
        total = (
            row.true_positives
            + row.false_positives
            + row.false_negatives
            + row.true_negatives
        )
        assert total == row.sources
    # every source the open rule calls a brute forcer is flagged
    assert openssh.attackers >= 5 and openssh.recall == 1.0
    # honeypot: the legitimate table has no failures, so no false alarm; most
    # Cowrie sources try a password or two and stay below any window
    assert honeypot.attackers > 1000 and honeypot.false_positives == 0
    assert 0.1 < honeypot.recall < 0.3
    heavy = [b for b in honeypot.by_attempts if b.failures in ("10-49", "50+")]
    light = [b for b in honeypot.by_attempts if b.failures in ("1", "2-4")]
    assert all(b.recall is not None and b.recall > 0.5 for b in heavy)
    assert all(b.flagged == 0 for b in light)
