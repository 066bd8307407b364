"""Sign-in and the single-user banner under AppTest (dashboard/auth.py): which pages a visitor gets, what a
misconfiguration says, and that a signed-in user's pages hold only their own runs and no server path.
The real sign-in against an OpenID Connect provider is in tests/test_browser_signin.py."""

from __future__ import annotations

import pytest
from conftest import ROOT
from streamlit import config
from streamlit.testing.v1 import AppTest

from embaug_core.runs.store import RunStore

APP = str(ROOT / "app.py")
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-test-secret-of-thirty-two-chars!",
    "client_id": "embaug",
    "client_secret": "not-a-secret",
}


@pytest.fixture
def provider():
    """A local OpenID Connect provider (oidc-provider-mock): its metadata URL."""
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}/.well-known/openid-configuration"


@pytest.fixture(autouse=True)
def _restore_options():
    """The options a test or the app sets are process-wide: put them back."""
    kept = {k: config.get_option(k) for k in ("server.address", "client.showErrorDetails")}
    yield
    for k, v in kept.items():
        config.set_option(k, v)


def app(*, auth=None, embaug=None, user=None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if auth is not None:
        at.secrets["auth"] = auth
    if embaug is not None:
        at.secrets["embaug"] = embaug
    at.user = user if user is not None else {}
    return at


def text(at) -> str:
    return " ".join(
        str(e.value)
        for kind in ("title", "markdown", "caption", "error", "warning", "info", "success")
        for e in getattr(at, kind)
    )


def test_single_user_mode_on_a_network_address_says_so_on_every_page_with_the_way_out():
    config.set_option("server.address", "0.0.0.0")
    at = app().run()
    assert not at.exception
    (banner,) = at.warning
    assert "Single-user mode on 0.0.0.0" in banner.value and "deletes every run" in banner.value
    for page in ("dashboard/pages/runs.py", "dashboard/pages/threshold.py", "dashboard/pages/serving.py"):
        at.switch_page(page).run()
        assert any("Single-user mode" in w.value for w in at.warning), page
    # the linked page is the docs page, with the set-up in it
    assert "Turning sign-in on" in text(at) and "Sign-in is off" in text(at)
    config.set_option("server.address", "localhost")
    assert not [w for w in app().run().warning if "Single-user" in w.value]  # this machine only: no banner


def test_with_sign_in_a_visitor_gets_only_the_sign_in_page(provider):
    at = app(auth={**AUTH, "server_metadata_url": provider}, user={"is_logged_in": False}).run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"] and not at.error
    assert "Sign in to use this dashboard" in text(at)
    assert not at.dataframe and not at.selectbox and not at.file_uploader  # no page is drawn


@pytest.mark.parametrize(
    "auth, says",
    [
        ({k: v for k, v in AUTH.items() if k != "cookie_secret"}, "has no cookie_secret"),
        ({"redirect_uri": AUTH["redirect_uri"], "cookie_secret": "x" * 32}, "names no provider"),
        ({**AUTH, "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}, "does not answer"),
    ],
    ids=["no cookie secret", "no provider", "provider down"],
)
def test_a_misconfigured_or_unreachable_provider_is_one_message_naming_the_setting(auth, says):
    at = app(auth=auth, user={"is_logged_in": False}).run()
    assert not at.exception
    (error,) = at.error
    assert says in error.value and ".streamlit/secrets.toml" in error.value
    assert "127.0.0.1:9" not in error.value  # the provider's address is not told to a visitor
    assert not [b for b in at.button if b.label == "Sign in"]  # nothing to press that cannot work


def test_bad_team_settings_are_named():
    at = app(auth={**AUTH, "server_metadata_url": "x"}, embaug={"trainings_per_user": 0}).run()
    assert "[embaug] trainings_per_user" in at.error[0].value
    at = app(auth={**AUTH, "server_metadata_url": "x"}, embaug={"admins": "lead@example.org"}).run()
    assert "[embaug] admins" in at.error[0].value


@pytest.fixture
def two_users_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBAUG_HOME", str(tmp_path / "home"))
    ana = RunStore(user="ana@example.org").save_failed(name="ana's run", error="stopped")
    ben = RunStore(user="ben@example.org").save_failed(name="ben's run", error="stopped")
    return ana, ben, tmp_path / "home"


def test_a_signed_in_user_sees_only_their_runs_no_server_path_and_can_sign_out(provider, two_users_runs):
    ana, ben, home = two_users_runs
    at = app(
        auth={**AUTH, "server_metadata_url": provider},
        user={"is_logged_in": True, "email": "Ana@Example.org", "email_verified": True},
    )
    at.run().switch_page("dashboard/pages/runs.py").run()
    assert not at.exception
    assert "Signed in as **ana@example.org**" in text(at)
    assert [b for b in at.sidebar.button if b.label == "Sign out"]
    listed = at.dataframe[0].value
    assert list(listed["name"]) == ["ana's run"] and "owner" not in listed.columns
    assert str(home) not in text(at) and "for you alone" in text(at)
    assert not [w for w in at.warning if "Single-user" in w.value]
    assert config.get_option("client.showErrorDetails") == "none"  # tracebacks name server paths


def test_an_admin_sees_every_users_runs_with_their_owner(provider, two_users_runs):
    ana, ben, _ = two_users_runs
    at = app(
        auth={**AUTH, "server_metadata_url": provider},
        embaug={"admins": ["lead@example.org"]},
        user={"is_logged_in": True, "email": "lead@example.org", "email_verified": True},
    )
    at.run().switch_page("dashboard/pages/runs.py").run()
    listed = at.dataframe[0].value
    assert set(listed["name"]) == {"ana's run", "ben's run"} and set(listed["owner"]) == {ana.owner, ben.owner}
    assert "(admin: every user's runs)" in text(at)


def _model_box():
    # AppTest runs this function's source alone: its imports are its own
    import streamlit as st

    from dashboard.data_forms import text_model_box

    st.session_state["model"] = text_model_box()


def test_signed_in_the_model_is_chosen_from_the_servers_list_never_typed(provider):
    at = AppTest.from_function(_model_box)
    at.secrets["auth"] = {**AUTH, "server_metadata_url": provider}
    at.secrets["embaug"] = {"models": {"multilingual": "/srv/models/multilingual"}}
    at.user = {"is_logged_in": True, "email": "ana@example.org", "email_verified": True}
    at.run()
    assert not at.text_input and at.selectbox[0].options == ["all-MiniLM-L6-v2", "multilingual"]
    assert at.session_state["model"] == ("all-MiniLM-L6-v2", "all-MiniLM-L6-v2")
    at.selectbox[0].set_value("multilingual").run()
    assert at.session_state["model"] == ("/srv/models/multilingual", "multilingual")
    # single-user: the machine owner types a name or a folder
    alone = AppTest.from_function(_model_box).run()
    assert not alone.selectbox and alone.text_input[0].value == "all-MiniLM-L6-v2"
    alone.text_input[0].input(" /opt/models/mine ").run()
    assert alone.session_state["model"] == ("/opt/models/mine", None)


def _embed_error():
    import streamlit as st

    from dashboard.data_forms import show_embed_error
    from embaug_core.errors import DataError, ModelFileError

    chosen = st.session_state.get("chosen")
    show_embed_error(
        ModelFileError("/srv/models/gone: not a Hugging Face model folder (it has no config.json)."), chosen
    )
    show_embed_error(DataError("reviews.csv: text column 'body' is empty in every row."), chosen)


def test_a_listed_model_that_fails_is_named_without_saying_what_exists_on_the_server():
    at = AppTest.from_function(_embed_error)
    at.session_state["chosen"] = "multilingual"
    at.run()
    listed, data = (e.value for e in at.error)
    assert "“multilingual” from the server's list could not be loaded" in listed and "/srv" not in listed
    assert "text column 'body' is empty" in data  # the user's own data keeps its words
    alone = AppTest.from_function(_embed_error).run()  # the machine owner typed the path: told all of it
    assert "/srv/models/gone" in alone.error[0].value


def _who():
    import streamlit as st

    from dashboard import auth

    st.session_state["who"] = auth.user()


@pytest.mark.parametrize(
    "claims, who",
    [
        ({"email": " Ana@Example.ORG ", "email_verified": True, "sub": "1", "iss": "https://id"}, "ana@example.org"),
        # an email the provider did not verify could be anyone's: the account's subject at its provider instead
        ({"email": "lead@example.org", "sub": "42", "iss": "https://id"}, "42 (https://id)"),
        ({"email": "lead@example.org", "email_verified": False, "sub": "42"}, "42"),
        ({"email": "lead@example.org"}, None),
    ],
    ids=["verified email", "unverified email", "verified false", "nobody"],
)
def test_a_user_is_their_verified_email_or_their_account_at_the_provider(claims, who):
    at = AppTest.from_function(_who)
    at.secrets["auth"] = {**AUTH, "server_metadata_url": "x"}
    at.user = {"is_logged_in": True, **claims}
    assert at.run().session_state["who"] == who


def test_a_sign_in_that_says_nobody_gets_no_page(provider):
    at = app(auth={**AUTH, "server_metadata_url": provider}, user={"is_logged_in": True, "email": "x@example.org"})
    at.run()
    assert not at.exception and "did not say who you are" in at.error[0].value
    assert [b.label for b in at.sidebar.button] == ["Sign out"] and not at.dataframe and not at.selectbox
