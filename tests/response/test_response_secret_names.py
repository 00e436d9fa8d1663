"""A secret pasted where a variable's name belongs is refused, never shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from response_rig import make_action

from trustwatch.cli.main import main
from trustwatch.errors import ConfigError
from trustwatch.response.config import response_config_from_dict
from trustwatch.storage.sqlite import SqliteStore

PASTED = "s3cr3t/Key+with=padding"


def _config(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "adapters": {
            "platform": {
                "kind": "webhook",
                "url": "http://127.0.0.1:9/actions",
                "secret_env": "TEST_WEBHOOK_SECRET",
            }
        },
        "routes": {"default": "platform"},
    }
    data.update(extra)
    return data


@pytest.mark.parametrize("value", [PASTED, "0123456789abcdef0123", "has space"])
def test_a_webhook_secret_env_that_is_no_variable_name_is_refused_unshown(
    value: str,
) -> None:
    data = _config()
    data["adapters"]["platform"]["secret_env"] = value

    with pytest.raises(ConfigError) as raised:
        response_config_from_dict(data, "response.toml")

    message = str(raised.value)
    assert "secret_env must name an environment variable" in message
    assert "not hold the key; hint:" in message
    assert value not in message


def test_a_delay_secret_env_that_is_no_variable_name_is_refused_unshown() -> None:
    with pytest.raises(ConfigError) as raised:
        response_config_from_dict(_config(delay_secret_env=PASTED), "response.toml")

    message = str(raised.value)
    assert "delay_secret_env must name an environment variable" in message
    assert PASTED not in message and "s3cr3t" not in message


def test_variable_names_are_still_accepted() -> None:
    config = response_config_from_dict(
        _config(delay_secret_env="_MY_DELAY_KEY2"), "response.toml"
    )
    assert config.delay_secret_env == "_MY_DELAY_KEY2"


def test_dispatch_never_prints_the_pasted_secret_in_json_logs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "store.db"
    with SqliteStore(db) as store:
        store.write_actions([make_action(1)])
    config = tmp_path / "response.toml"
    config.write_text(
        f'delay_secret_env = "{PASTED}"\n\n'
        f'[adapters.audit]\nkind = "log"\npath = "{tmp_path / "a.jsonl"}"\n\n'
        '[routes]\ndefault = "audit"\n'
    )

    store = ["--db", str(db)]
    code = main(
        ["--log-format", "json", "dispatch", "--config", str(config), *store, "--once"]
    )

    captured = capsys.readouterr()
    assert code != 0
    assert "delay_secret_env must name an environment variable" in captured.err
    assert "s3cr3t" not in captured.out + captured.err


def test_a_secret_shaped_like_a_variable_name_is_not_shown_either(monkeypatch) -> None:
    from trustwatch.response.adapters import build_adapters
    from trustwatch.response.delay import delay_key

    hexkey = "deadbeef0123456789abcdef0123456789abcdef"  # a legal variable name
    monkeypatch.delenv(hexkey, raising=False)
    data = _config()
    data["adapters"]["platform"]["secret_env"] = hexkey
    config = response_config_from_dict(data, "response.toml")
    with pytest.raises(ConfigError) as raised:
        build_adapters(config)
    assert hexkey not in str(raised.value)
    assert "the environment variable secret_env names" in str(raised.value)
    with pytest.raises(ConfigError) as delayed:
        delay_key(hexkey)
    assert hexkey not in str(delayed.value)


def test_a_conventional_variable_name_is_still_named(monkeypatch) -> None:
    from trustwatch.response.delay import delay_key

    monkeypatch.delenv("TW_DELAY_KEY", raising=False)
    with pytest.raises(ConfigError, match="TW_DELAY_KEY is unset"):
        delay_key("TW_DELAY_KEY")
    # an upper-case key without an underscore, as base32 secrets are
    with pytest.raises(ConfigError) as raised:
        delay_key("JBSWY3DPEHPK3PXPJBSW")
    assert "JBSWY3DPEHPK3PXPJBSW" not in str(raised.value)
