"""Two people sign in to one dashboard through a local OpenID Connect provider (oidc-provider-mock, started
here, offline) and never see each other's runs: the real st.login flow that AppTest cannot drive."""

from __future__ import annotations

import os
import secrets

import pytest
from conftest import blob_frame
from test_browser import ARGS, CHROMIUM, _file_input, _free_port, _hold_out_named_and_open_train, _settle, _start_server

from embaug_core.errors import EmbaugError
from embaug_core.runs.store import RunStore

pytestmark = pytest.mark.browser

ANA, BEN = "ana@example.org", "ben@example.org"
PAGES = ("Data", "Experiment", "Calibration", "Threshold", "Labelling queue", "Runs")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (scripts/test.sh does) to run the browser test.")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def signed_in_server(tmp_path):
    """The dashboard with sign-in on, against a provider of its own: (url, EMBAUG_HOME)."""
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread() as provider:
        port = _free_port()
        secrets_file = tmp_path / "secrets.toml"
        secrets_file.write_text(
            "[auth]\n"
            f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
            f'cookie_secret = "{secrets.token_hex(32)}"\n'
            'client_id = "embaug-test"\n'
            'client_secret = "embaug-test-secret"\n'
            f'server_metadata_url = "http://localhost:{provider.server_port}/.well-known/openid-configuration"\n'
        )
        env = {**os.environ, "EMBAUG_HOME": str(tmp_path / "home")}
        proc, url, log = _start_server(tmp_path / "streamlit.log", port, env, ("--secrets.files", str(secrets_file)))
        try:
            yield url, tmp_path / "home"
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            log.close()


def _sign_in(page, url: str, who: str) -> None:
    page.goto(url)
    page.get_by_role("button", name="Sign in").click()
    page.locator('input[name="sub"]').fill(who)  # the provider's own form: who signs in
    page.get_by_role("button", name="Authorize").click()
    page.get_by_text(f"Signed in as {who}").wait_for(timeout=60_000)
    _settle(page)


def _sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    end = page.get_by_role("button", name="End session")  # the provider's end-of-session page, when it has one
    sign_in = page.get_by_role("button", name="Sign in")
    end.or_(sign_in).first.wait_for(timeout=60_000)
    if end.is_visible():
        end.click()
    sign_in.wait_for(timeout=60_000)


def _train_on_upload(page, tmp_path, name: str) -> None:
    path = tmp_path / name
    blob_frame(n_classes=5, per_class=40, dim=8, spread=2.0).to_csv(path, index=False)
    page.get_by_text("Rows per class").first.wait_for(timeout=60_000)
    page.get_by_text("Upload a file").click()
    _file_input(page, "Embedding table").set_input_files(str(path))
    page.get_by_text(f"{name}:").first.wait_for(timeout=30_000)
    _settle(page)
    page.get_by_role("button", name="Use this table").click()
    page.get_by_text(f"Loaded {name}").wait_for(timeout=30_000)
    _settle(page)
    _hold_out_named_and_open_train(page, ["c1"])
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Accuracy per epoch").wait_for(timeout=180_000)
    _settle(page)


def test_two_users_sign_in_and_each_sees_only_their_own_runs(signed_in_server, browser, tmp_path):
    url, home = signed_in_server
    ana_ctx, ben_ctx = (browser.new_context(viewport={"width": 1300, "height": 1000}) for _ in range(2))
    try:
        ana, ben = ana_ctx.new_page(), ben_ctx.new_page()
        ana.goto(url)  # nobody signed in: the sign-in page and nothing else
        ana.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
        assert ana.get_by_role("link", name="Runs").count() == 0
        _sign_in(ana, url, ANA)
        _train_on_upload(ana, tmp_path, "ana_tickets.csv")
        (run,) = RunStore(home / "runs").list()  # the machine owner's view: the run is Ana's
        # the provider does not say it verified the email: Ana is her account at the provider, "SUB (ISSUER)"
        assert run.owner.startswith(f"{ANA} (http://localhost:") and run.status == "complete"

        _sign_in(ben, url, BEN)
        for name in PAGES:  # on no page of Ben's is there anything of Ana's
            ben.get_by_role("link", name=name, exact=True).click()
            _settle(ben)
            content = ben.content()
            assert "ana_tickets" not in content and run.id not in content and "Traceback" not in content, name
        ben.get_by_text("No runs yet").wait_for(timeout=30_000)
        with pytest.raises(EmbaugError) as refused:  # and Ben's store will not open it by id
            RunStore(home / "runs", user=f"{BEN} ({run.owner.split(' (')[1]}").load(run.id)
        assert str(refused.value) == f"no run {run.id!r} among your runs."

        ana.get_by_role("link", name="Runs").click()
        ana.get_by_role("button", name="Open this run").wait_for(timeout=60_000)
        assert "ana_tickets" in ana.content() and str(home) not in ana.content()
        _sign_out(ana)
        _sign_in(ana, url, ANA)  # back again: the run is still there, and opens
        ana.get_by_role("link", name="Runs").click()
        ana.get_by_role("button", name="Open this run").click()
        ana.get_by_text("Opened ").wait_for(timeout=60_000)
    finally:
        ana_ctx.close()
        ben_ctx.close()
