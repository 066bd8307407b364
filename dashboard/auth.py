"""Who uses the dashboard: Streamlit's own sign-in, and the settings of a dashboard served to a team.

Sign-in is Streamlit's (``st.login`` / ``st.user`` / ``st.logout``, any OpenID Connect provider, Authlib
underneath), configured in the standard ``[auth]`` section of ``.streamlit/secrets.toml``. embaug's own
team settings sit beside it in an ``[embaug]`` section: ``admins`` (who sees every run),
``trainings_per_user`` (the most trainings one user runs at once; 1 unless set) and ``models`` (the
embedding models a signed-in user may choose, by name). docs/serving.md shows a whole file.

* **No secrets file, or no [auth] section:** a single-user app; the run store is the machine owner's.
  Served on an address other than localhost, every page says so (:func:`single_user_banner`).
* **[auth] present:** every page needs a signed-in user (:func:`gate`); "Sign out" is in the sidebar; the
  run store, the trainings and the stored tables are the user's (:func:`user`); error details stay in the
  server's log; the model comes from ``[embaug] models``, never from a typed path.
* **[auth] present but unusable** (a setting missing, the provider not answering, the file not TOML):
  one message naming the setting to check, and no page.

Written by hand because Streamlit gives the sign-in and nothing of the rest: which settings are missing
(Streamlit raises only when ``st.login`` is pressed, or answers "Authentication error" on a bare page
when the provider is down), the per-user store and the admin list.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass, field

import streamlit as st
from streamlit.errors import StreamlitAuthError

__all__ = ["Team", "team", "gate", "user", "is_admin", "single_user_banner", "SERVING_PAGE", "DEFAULT_MODEL"]

SERVING_PAGE = "dashboard/pages/serving.py"
SECRETS = ".streamlit/secrets.toml"
DEFAULT_MODEL = "all-MiniLM-L6-v2"  # the bundled text model: always on the list
LOCAL_ADDRESSES = {"localhost", "127.0.0.1", "::1"}
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")


@dataclass(frozen=True)
class Team:
    """The dashboard's sign-in and team settings, read from the secrets file (see the module docstring)."""

    signin: bool = False
    problem: str | None = None  # why sign-in cannot work as configured, naming the setting to check
    providers: tuple = (None,)  # st.login's provider names; None: the [auth] section's own keys
    metadata_urls: tuple = ()
    admins: frozenset = frozenset()
    trainings_per_user: int | None = None
    models: dict = field(default_factory=lambda: {DEFAULT_MODEL: DEFAULT_MODEL})


def _section(secrets, name: str) -> dict:
    value = secrets.get(name)
    return {} if value is None else dict(value)


def _providers(auth: dict) -> tuple[tuple, tuple, str | None]:
    """(provider names, their metadata URLs, a problem) of an [auth] section."""
    if any(k in auth for k in PROVIDER_KEYS):
        named = {None: auth}
    else:
        named = {k: dict(v) for k, v in auth.items() if hasattr(v, "keys")}
    if not named:
        return (
            (),
            (),
            (
                f"the [auth] section of {SECRETS} names no provider: add client_id, client_secret and "
                "server_metadata_url to it, or an [auth.<name>] section with them."
            ),
        )
    for name, section in named.items():
        where = "[auth]" if name is None else f"[auth.{name}]"
        missing = [k for k in PROVIDER_KEYS if not section.get(k)]
        if missing:
            return (), (), f"{where} in {SECRETS} has no {', '.join(missing)}."
        if name is not None and "_" in name:
            return (), (), f"{where} in {SECRETS}: a provider's name cannot contain '_' (Streamlit's rule)."
    return tuple(named), tuple(str(s["server_metadata_url"]) for s in named.values()), None


# long: every setting checked in the order the docs list them, each problem in the words of its file
def team() -> Team:
    """The settings, read from the secrets file on every call (Streamlit caches the file)."""
    try:
        secrets = st.secrets
        auth, own = _section(secrets, "auth"), _section(secrets, "embaug")
    except OSError as exc:  # Streamlit's StreamlitSecretNotFoundError (no file, or not TOML), or not readable
        if isinstance(exc, FileNotFoundError) and str(exc).startswith("No secrets found"):
            return Team()
        return Team(
            signin=True, problem=f"{SECRETS} cannot be read (it is not valid TOML); the server's log says where."
        )
    if not auth:
        return Team()
    problem = None
    for key in ("redirect_uri", "cookie_secret"):
        if not auth.get(key):
            problem = f"the [auth] section of {SECRETS} has no {key}."
            break
    providers, urls, provider_problem = _providers(auth)
    problem = problem or provider_problem
    admins = own.get("admins", [])
    if not isinstance(admins, list) or not all(isinstance(a, str) for a in admins):
        problem = problem or f"[embaug] admins in {SECRETS} must be a list of user names (emails)."
        admins = []
    cap = own.get("trainings_per_user", 1)
    if not isinstance(cap, int) or isinstance(cap, bool) or cap < 1:
        problem = problem or f"[embaug] trainings_per_user in {SECRETS} must be a whole number >= 1."
        cap = 1
    models = own.get("models", {})
    if not hasattr(models, "keys") or not all(isinstance(v, str) and v.strip() for v in dict(models).values()):
        problem = problem or f"[embaug.models] in {SECRETS} must map a model's name to its folder on the server."
        models = {}
    return Team(
        signin=True,
        problem=problem,
        providers=providers,
        metadata_urls=urls,
        admins=frozenset(admins),
        trainings_per_user=cap,
        models={DEFAULT_MODEL: DEFAULT_MODEL, **{str(k): str(v) for k, v in dict(models).items()}},
    )


@st.cache_data(ttl=30, show_spinner=False)
def provider_problem(url: str) -> str | None:
    """Why the provider at ``url`` (its OpenID configuration) cannot be used, or None; asked at most
    every 30 s. The message names the setting, not the address: the visitor is not signed in yet."""
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:
            found = json.loads(answer.read())
        if not isinstance(found, dict) or "authorization_endpoint" not in found:
            raise ValueError("not an OpenID configuration")
    except (OSError, ValueError):
        return (
            f"the sign-in provider does not answer: check server_metadata_url in the [auth] section of {SECRETS}, "
            "and that the provider is up."
        )
    return None


def user() -> str | None:
    """The signed-in user, or None in a single-user dashboard (and for a sign-in that says nobody).

    Their email, lower-cased, when the provider says it verified it (``email_verified``): an email a
    provider did not verify could be anyone's. Otherwise the provider's subject and issuer, ``SUB (ISSUER)``:
    unique to one account of one provider, also when several providers sit side by side."""
    if not team().signin or not st.user.get("is_logged_in"):
        return None
    email = st.user.get("email")
    if email and st.user.get("email_verified") is True:
        return str(email).strip().casefold()
    sub, issuer = st.user.get("sub"), st.user.get("iss")
    if not sub:
        return None
    return f"{sub} ({issuer})" if issuer else str(sub)


def is_admin() -> bool:
    name = user()
    return name is not None and any(name in (a, a.strip().casefold()) for a in team().admins)


def _sign_in_page(settings: Team) -> None:
    st.title("embaug")
    st.write("Sign in to use this dashboard: your runs, trainings and uploaded tables are yours alone.")
    problems = [p for p in map(provider_problem, settings.metadata_urls) if p]
    if problems:
        st.error(f"Sign-in does not work yet: {problems[0]} Tell whoever runs this server.", icon=":material/error:")
        return
    for name in settings.providers:
        label = "Sign in" if name is None else f"Sign in with {name}"
        if st.button(label, type="primary", key=f"sign_in|{name}"):
            try:
                st.login(name) if name is not None else st.login()
            except StreamlitAuthError:  # st.login's own check of the settings
                st.error(f"Sign-in does not work yet: check the [auth] section of {SECRETS}.", icon=":material/error:")


def gate() -> bool:
    """Whether the pages may be drawn: always in a single-user dashboard; with sign-in, once a user is
    signed in (the sign-in page is drawn otherwise, or the one message of a misconfiguration)."""
    settings = team()
    if not settings.signin:
        return True
    if settings.problem:
        st.title("embaug")
        st.error(f"Sign-in is turned on but cannot work: {settings.problem}", icon=":material/error:")
        return False
    if st.get_option("client.showErrorDetails") != "none":
        st.set_option("client.showErrorDetails", "none")  # a traceback names server paths: the log keeps it
    if not st.user.get("is_logged_in"):
        _sign_in_page(settings)
        return False
    with st.sidebar:
        if user() is not None:
            st.caption(f"Signed in as **{user()}**" + (" (admin: every user's runs)" if is_admin() else ""))
        if st.button("Sign out", key="sign_out", icon=":material/logout:"):
            st.logout()
    if user() is None:
        st.error(
            "Your sign-in provider did not say who you are (no verified email and no subject), so this dashboard "
            "cannot tell your runs from anyone's. Tell whoever runs this server.",
            icon=":material/error:",
        )
        return False
    return True


def single_user_banner() -> None:
    """Without sign-in, on an address other than localhost: say, on every page, that everyone who reaches
    the server shares every run, and link the page that turns sign-in on."""
    if team().signin:
        return
    address = st.get_option("server.address")
    if address in LOCAL_ADDRESSES:
        return
    where = f"on {address}" if address else "on every address of this machine"
    st.warning(
        f"Single-user mode {where}: sign-in is off, so everyone who can reach this server sees, opens, renames "
        "and deletes every run and its data.",
        icon=":material/group_off:",
    )
    st.page_link(SERVING_PAGE, label="How to turn sign-in on", icon=":material/lock:")
