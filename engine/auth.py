"""CPO sign-in: which secret the CPO pages accept, and checking it in constant time.

The secret comes from, first match wins:

1. ``EV_CPO_PASSWORD`` - a password in the environment;
2. ``cpo_password_sha256`` in streamlit's secrets (``.streamlit/secrets.toml``) - a salted hash
   ``"<salt>$<hex sha256 of salt + password>"``, made by ``python -m engine.auth``;
3. else a one-time token made at start (:func:`new_token`), printed to the console with the
   URL that signs in with it, as Jupyter does.

Every check uses :func:`hmac.compare_digest`, so its time does not tell how much of a guess was
right. Pure Python: the streamlit side is ``pages/auth.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["Credentials", "hash_password", "new_token", "credentials_from", "PASSWORD_ENV", "SECRET_KEY"]

PASSWORD_ENV = "EV_CPO_PASSWORD"
SECRET_KEY = "cpo_password_sha256"


def _sha256(salt: str, password: str) -> str:
    return hashlib.sha256((salt + password).encode("utf-8")).hexdigest()


def hash_password(password: str, salt: str | None = None) -> str:
    """``"<salt>$<hex sha256(salt + password)>"`` for ``cpo_password_sha256`` (a random salt by default)."""
    salt = secrets.token_hex(16) if salt is None else salt
    if "$" in salt:
        raise ValueError("salt: must not contain '$'")
    return f"{salt}${_sha256(salt, password)}"


def new_token() -> str:
    """A one-time sign-in token (48 hex digits, as Jupyter's)."""
    return secrets.token_hex(24)


@dataclass(frozen=True)
class Credentials:
    """The secret CPO pages accept.

    Parameters
    ----------
    kind : {"password", "hash", "token"}
        Where it came from (see the module's docstring).
    secret : str
        The password, the ``salt$hex`` hash, or the token.
    """

    kind: str
    secret: str

    def check(self, given: Any) -> bool:
        """Whether ``given`` (a typed password or token) is accepted, in constant time."""
        if not isinstance(given, str) or not given or not self.secret:
            return False
        if self.kind == "hash":
            salt, _, want = self.secret.partition("$")
            if not want:
                return False
            return hmac.compare_digest(_sha256(salt, given).encode(), want.strip().lower().encode())
        return hmac.compare_digest(given.encode("utf-8"), self.secret.encode("utf-8"))

    @property
    def label(self) -> str:
        """What the sign-in form asks for."""
        return "Sign-in token" if self.kind == "token" else "CPO password"


def credentials_from(environ: Mapping[str, str], secrets_: Mapping[str, Any] | None, token: str) -> Credentials:
    """The credentials in force: ``EV_CPO_PASSWORD``, else the secrets' hash, else ``token``."""
    pw = environ.get(PASSWORD_ENV, "")
    if pw:
        return Credentials("password", pw)
    h = (secrets_ or {}).get(SECRET_KEY) if secrets_ is not None else None
    if isinstance(h, str) and "$" in h:
        return Credentials("hash", h.strip())
    return Credentials("token", token)


def main() -> None:  # pragma: no cover - interactive
    """Print a ``cpo_password_sha256`` line for .streamlit/secrets.toml."""
    import getpass

    pw = getpass.getpass("CPO password: ")
    if not pw or pw != getpass.getpass("again: "):
        raise SystemExit("passwords empty or different")
    print(f'{SECRET_KEY} = "{hash_password(pw)}"')


if __name__ == "__main__":  # pragma: no cover
    main()
