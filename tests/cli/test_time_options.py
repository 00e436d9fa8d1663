"""Number and time options: finite values only, durations, errors that name
where a bad value came from."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import cli, main
from trustwatch.cli.stream import stream


def _float_options() -> Iterator[tuple[str, click.Parameter]]:
    """Every float parameter of every command, with the command's path."""

    def walk(
        command: click.Command, path: str
    ) -> Iterator[tuple[str, click.Parameter]]:
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                yield from walk(sub, f"{path} {name}")
            return
        for param in command.params:
            if isinstance(param.type, click.types.FloatParamType):
                yield path, param

    yield from walk(cli, "trustwatch")


_FLOAT_OPTIONS = list(_float_options())


def test_the_walk_finds_the_float_options_of_the_commands() -> None:
    names = {(path, param.name) for path, param in _FLOAT_OPTIONS}
    assert ("trustwatch stream", "checkpoint_interval") in names
    assert ("trustwatch publish", "rate") in names
    assert ("trustwatch demo", "days") in names


@pytest.mark.parametrize(
    ("path", "param"),
    _FLOAT_OPTIONS,
    ids=[f"{path} {param.name}" for path, param in _FLOAT_OPTIONS],
)
@pytest.mark.parametrize("value", ["nan", "NaN", "-nan", "inf", "-inf", "Infinity"])
def test_no_float_option_of_any_command_takes_a_number_that_is_not_finite(
    path: str, param: click.Parameter, value: str
) -> None:
    with pytest.raises(click.BadParameter, match=r"finite|range"):
        param.type.convert(value, param, None)


def _stream(tmp_path: Path, *args: str) -> int:
    return main(
        [
            "stream",
            "--topic",
            "events",
            "--bootstrap-servers",
            "127.0.0.1:9",  # nothing listens: option errors come first
            "--no-geo",
            "--state-store",
            str(tmp_path / "state.sqlite"),
            *args,
        ]
    )


@pytest.mark.parametrize(
    "option",
    [
        "--exit-when-idle",
        "--checkpoint-interval",
        "--batch-wait",
        "--full-collection-interval",
    ],
)
def test_a_stream_time_option_refuses_nan_before_connecting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    assert _stream(tmp_path, option, "nan") == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert f"Invalid value for '{option}'" in err and "'nan'" in err
    assert "range" in err


def test_publish_refuses_a_rate_or_timeout_that_is_not_finite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text("")
    base = [
        "publish",
        str(events),
        "--topic",
        "t",
        "--bootstrap-servers",
        "127.0.0.1:9",
    ]
    assert main([*base, "--rate", "nan"]) == ExitCode.BAD_INPUT
    assert main([*base, "--delivery-timeout", "inf"]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "'--rate'" in err and "'--delivery-timeout'" in err


def _stream_params(tmp_path: Path, *args: str) -> dict[str, object]:
    """The stream command's values, parsed but not run."""
    context = stream.make_context(
        "stream",
        ["--topic", "events", "--state-store", str(tmp_path / "s.sqlite"), *args],
    )
    return dict(context.params)


def test_stream_time_options_take_seconds_or_a_duration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUSTWATCH_BATCH_WAIT", "2s")
    params = _stream_params(
        tmp_path,
        "--checkpoint-interval",
        "5m",
        "--exit-when-idle",
        "2.5",
        "--full-collection-interval",
        "0s",
    )
    assert params["checkpoint_interval"] == 300.0
    assert params["exit_when_idle"] == 2.5
    assert params["full_collection_interval"] == 0.0
    assert params["batch_wait"] == 2.0


def test_a_config_file_may_give_durations_and_numbers(tmp_path: Path) -> None:
    config = tmp_path / "stream.toml"
    config.write_text(
        'checkpoint-interval = "10s"\nexit-when-idle = "1m"\nbatch-wait = 0.5\n'
        "full-collection-interval = 7200\n"
    )
    params = _stream_params(tmp_path, "--config", str(config))
    assert params["checkpoint_interval"] == 10.0
    assert params["exit_when_idle"] == 60.0
    assert params["batch_wait"] == 0.5
    assert params["full_collection_interval"] == 7200.0


@pytest.mark.parametrize("value", ["1.5m", "soon", "10 parsecs", "-5s", "true"])
def test_a_time_that_is_neither_seconds_nor_a_duration_is_refused(
    tmp_path: Path, value: str
) -> None:
    with pytest.raises(click.BadParameter, match="seconds or a duration"):
        _stream_params(tmp_path, "--checkpoint-interval", value)


def test_a_bad_value_in_the_config_file_is_blamed_on_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRUSTWATCH_CHECKPOINT_INTERVAL", raising=False)
    config = tmp_path / "c4.toml"
    config.write_text('checkpoint-interval = "soon"\n')
    assert _stream(tmp_path, "--config", str(config)) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert f"'checkpoint-interval' in {config}" in err
    assert "env var" not in err


def test_a_bad_value_is_blamed_on_the_variable_only_when_it_came_from_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUSTWATCH_CHECKPOINT_INTERVAL", "soon")
    assert _stream(tmp_path) == ExitCode.BAD_INPUT
    from_variable = capsys.readouterr().err
    assert "(env var: 'TRUSTWATCH_CHECKPOINT_INTERVAL')" in from_variable
    monkeypatch.setenv("TRUSTWATCH_CHECKPOINT_INTERVAL", "10")
    assert _stream(tmp_path, "--checkpoint-interval", "soon") == ExitCode.BAD_INPUT
    from_command_line = capsys.readouterr().err
    assert "Invalid value for '--checkpoint-interval':" in from_command_line
    assert "env var" not in from_command_line


def test_any_command_names_an_unset_variable_in_no_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRUSTWATCH_PORT", raising=False)
    assert main(["serve", "--port", "http"]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "Invalid value for '--port':" in err
    assert "TRUSTWATCH_PORT" not in err
