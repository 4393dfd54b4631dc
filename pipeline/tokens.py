"""Signed per-subscriber tokens (itsdangerous), with the key taken from the environment.

An unsubscribe token names one subscriber and a digest of their address, signed with the
newsletter's key: a token works only for its own address, and a forged or altered one is
rejected. It never expires, because a List-Unsubscribe link must keep working. Confirmation
tokens (double opt-in) and form tokens (proof that a form was fetched from us, recently) carry
a timestamp and expire; the clock they read is passed in. A VERP tag (the part after '+' in
a recipient's own return path) names a subscriber with a short keyed digest, in lower case
only, as some mail servers lower the case of an address.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from itsdangerous import (
    BadSignature,
    SignatureExpired,
    TimestampSigner,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)

from .errors import PipelineError

MIN_SECRET_LENGTH = 16


class TokenError(ValueError):
    """A token that is forged, altered, for another purpose, or expired."""


def secret_from_env(variable: str, environ: dict[str, str] | None = None) -> str:
    """The signing key from the environment variable named in newsletter.toml."""
    value = (environ if environ is not None else os.environ).get(variable, "")
    if not value:
        example = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        raise PipelineError(f"no token signing key: set the environment variable {variable} "
                            f"to a long random secret, e.g. export {variable}=$({example})")
    if len(value) < MIN_SECRET_LENGTH:
        raise PipelineError(f"the signing key in {variable} is too short: use at least "
                            f"{MIN_SECRET_LENGTH} random characters")
    return value


def address_digest(email: str) -> str:
    """A short digest of an address, so a token does not carry the address itself."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Tokens:
    """Makes and checks the newsletter's signed tokens."""

    secret: str
    clock: Callable[[], float] = field(default=time.time, compare=False)

    def _timed(self, salt: str) -> URLSafeTimedSerializer:
        clock = self.clock

        class Signer(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock())

        return URLSafeTimedSerializer(self.secret, salt=salt, signer=Signer)

    def unsubscribe(self, subscriber_id: int, email: str) -> str:
        return URLSafeSerializer(self.secret, salt="unsubscribe").dumps(
            [subscriber_id, address_digest(email)])

    def check_unsubscribe(self, token: str) -> tuple[int, str]:
        """(subscriber id, address digest) of a genuine token, else :class:`TokenError`."""
        try:
            data = URLSafeSerializer(self.secret, salt="unsubscribe").loads(token)
        except BadSignature:
            raise TokenError("this unsubscribe link is not valid") from None
        return _pair(data)

    def confirm(self, subscriber_id: int, email: str) -> str:
        return self._timed("confirm").dumps([subscriber_id, address_digest(email)])

    def check_confirm(self, token: str, max_age_seconds: int) -> tuple[int, str]:
        try:
            data = self._timed("confirm").loads(token, max_age=max_age_seconds)
        except SignatureExpired:
            raise TokenError("this confirmation link has expired; subscribe again") from None
        except BadSignature:
            raise TokenError("this confirmation link is not valid") from None
        return _pair(data)


    def verp_tag(self, subscriber_id: int, email: str) -> str:
        """``ID-DIGEST``: the subscriber's id and a keyed digest of the id and address."""
        return f"{subscriber_id}-{self._verp_digest(subscriber_id, email)}"

    def check_verp_tag(self, tag: str, email_of: Callable[[int], str | None]) -> int:
        """The subscriber id of a genuine VERP tag (``email_of`` looks up their address),
        else :class:`TokenError`."""
        found = re.fullmatch(r"(\d{1,18})-([0-9a-f]{16})", tag.strip().lower())
        if not found:
            raise TokenError("not a VERP tag of ours")
        subscriber_id = int(found[1])
        email = email_of(subscriber_id)
        if email is None or not hmac.compare_digest(
                found[2], self._verp_digest(subscriber_id, email)):
            raise TokenError("this VERP tag is not valid")
        return subscriber_id

    def _verp_digest(self, subscriber_id: int, email: str) -> str:
        text = f"verp:{subscriber_id}:{address_digest(email)}".encode()
        return hmac.new(self.secret.encode(), text, hashlib.sha256).hexdigest()[:16]

    def form(self, purpose: str) -> str:
        """A token for a form of ours (``subscribe``, ``confirm``): signed and dated."""
        return self._timed("form").dumps(purpose)

    def check_form(self, token: str, purpose: str, max_age_seconds: int) -> None:
        """Accept a form token made for ``purpose`` less than ``max_age_seconds`` ago."""
        try:
            data = self._timed("form").loads(token, max_age=max_age_seconds)
        except SignatureExpired:
            raise TokenError("this form has expired; reload the page and try again") from None
        except BadSignature:
            raise TokenError("this form was not sent from our page; reload it and try "
                             "again") from None
        if data != purpose:
            raise TokenError("this form was not sent from our page; reload it and try again")


def _pair(data: object) -> tuple[int, str]:
    if (isinstance(data, list) and len(data) == 2 and isinstance(data[0], int)
            and isinstance(data[1], str)):
        return data[0], data[1]
    raise TokenError("this link is not valid")


def unsubscribe_link(endpoint: str, token: str) -> str:
    """A subscriber's one-click unsubscribe URL: the endpoint with their token."""
    return f"{endpoint}?token={token}"


#: A subscriber id longer than any list will reach (ten digits), for the longest link.
LONGEST_ID = 9_999_999_999


def longest_unsubscribe_link(endpoint: str) -> str:
    """The longest unsubscribe URL a subscriber can get (a token's length depends only on the
    id's digits): what the email's size budget counts in place of the placeholder."""
    return unsubscribe_link(endpoint, Tokens("size").unsubscribe(LONGEST_ID, "reader@example.org"))

