"""``trustwatch url score``: scores and reasons from the URL string alone."""

import json

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main


def test_url_score_explains_and_ranks(tmp_path, capsys):
    intel = tmp_path / "intel.txt"
    intel.write_text("http://198.51.100.7:8080/bin.sh\n")
    urls = [
        "hxxp://198.51.100[.]7:8080/bin.sh",
        "https://paypal.com.secure-login.example/webscr?cmd=login",
        "https://www.paypal.com/signin",
    ]
    args = ["url", "score", *urls, "--intel", str(intel), "--json"]
    assert main(args) == ExitCode.OK
    payload = capsys.readouterr().out.splitlines()
    rows = [json.loads(line) for line in payload]
    assert rows[0]["url"] == "http://198.51.100.7:8080/bin.sh"
    assert rows[0]["intel"] == ["url listed by intel"]
    assert rows[1]["brands"][0].startswith("paypal: brand_in_subdomain")
    assert rows[2]["brands"] == []
    assert rows[0]["score"] > rows[2]["score"]
    assert rows[1]["score"] > rows[2]["score"]


def test_url_score_refuses_what_is_not_a_url(capsys):
    assert main(["url", "score", "http://\u2105/", "https://example.com/"]) == (
        ExitCode.BAD_INPUT
    )
    captured = capsys.readouterr()
    assert "not a URL" in captured.out
    assert "https://example.com/  score" in captured.out


def test_a_very_long_url_is_shown_cut_short_and_whole_in_json(capsys):
    url = "https://files.example/" + "a" * 70_000
    assert main(["url", "score", url, "not a url " * 5_000]) == ExitCode.BAD_INPUT
    shown = " ".join(capsys.readouterr().out.split())  # the console wraps lines
    assert len(shown) < 2_000
    assert "(70,022 characters) score" in shown
    assert "(50,000 characters): not a URL" in shown
    assert main(["url", "score", url, "--json"]) == ExitCode.OK
    assert json.loads(capsys.readouterr().out)["url"] == url


def test_intel_records_that_cannot_be_read_are_a_warning(tmp_path, capsys):
    intel = tmp_path / "intel.txt"
    intel.write_text("http://198.51.100.7:8080/bin.sh\nhttp://[::1\n")
    args = ["url", "score", "http://198.51.100.7:8080/bin.sh", "--intel", str(intel)]
    assert main(args) == ExitCode.OK
    captured = capsys.readouterr()
    assert "url listed by intel" in captured.out
    assert "warning: 1 intel records could not be read and were left out" in (
        captured.err
    )
    assert "no closing bracket" in captured.err
