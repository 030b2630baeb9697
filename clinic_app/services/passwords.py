"""Passwords: NIST SP 800-63B checks and bcrypt hashing.

Rules: at least 12 characters, up to 128 (NIST: allow at least 64), any
characters, no composition rules; refuse passwords found in zxcvbn's list of
30,000 common/breached passwords or that zxcvbn judges easily guessable
(dictionary words, keyboard patterns, repeats, or the context words: the
user's own name and email, the clinic's name and subdomain). A password that
contains a context word whole must be a good password without it (12
characters, not guessable).
"""
import base64
import hashlib
import re
import unicodedata
from functools import lru_cache

import bcrypt
from flask import current_app, has_app_context
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 12
MAX_LENGTH = 128
_COMMON = frozenset(FREQUENCY_LISTS["passwords"])
_SEPARATORS = re.compile(r"[\W_]+")  # anything but a letter or digit (any script)
CONTEXT_HINT = "Leave out the clinic's name and address and your own name and email."


def context_words(*, email=None, name=None, tenant=None):
    """The user_inputs for `password_problem`: a person's email and name, a clinic's name and subdomain."""
    words = [email, name]
    if tenant is not None:
        words += [tenant.name, tenant.subdomain]
    return tuple(w for w in words if w)


def _fold(text):
    """Lower case without accents ("María" -> "maria"), as people often type a name in a password."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _variants(user_inputs):
    """Each context word folded, with its parts (emails: local part and domain labels) in every spelling."""
    whole, parts = set(), set()
    if has_app_context():
        user_inputs = (*user_inputs, current_app.config.get("BASE_DOMAIN"))  # the clinic's address ends in it
    for item in user_inputs:
        text = _fold(str(item).strip()) if item else ""
        if not text:
            continue
        pieces = [text]
        if "@" in text:
            local, _, domain = text.partition("@")
            pieces += [local, domain.rsplit(".", 1)[0]]
        for piece in pieces:
            words = [w for w in _SEPARATORS.split(piece) if w]
            parts.update(w for w in words if len(w) > 2)
            spellings = {piece, *(sep.join(words) for sep in ("", " ", "-", "_", "."))}
            whole.update(s for s in spellings if len(s) > 2)
    return whole, parts


def _guessable(password, inputs):
    # zxcvbn refuses more than 72 characters; the first 72 decide a long password's strength.
    result = zxcvbn(password[:72], user_inputs=inputs)
    if result["score"] < 3:
        return result["feedback"].get("warning") or "Add a few more unrelated words."
    return None


def password_problem(password, user_inputs=()):
    """A message saying why `password` is unacceptable, or None when it is fine.

    `user_inputs` are the context words (see `context_words`).
    """
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters. A few unrelated words make a strong password."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    if password.lower() in _COMMON:
        return "This password is on a list of common or breached passwords. Choose another."
    whole, parts = _variants(user_inputs)
    inputs = sorted(whole | parts)
    hint = _guessable(password, inputs)
    if hint:
        return f"This password is too easy to guess. {hint}".strip()
    # zxcvbn only discounts a context word it finds as one token; "sunrisefamily2024!" slips
    # through, so a password holding one whole must be a good password without it.
    folded = rest = _fold(password)
    for word in sorted(whole, key=len, reverse=True):
        rest = rest.replace(word, " ")
    rest = " ".join(rest.split())
    if rest != " ".join(folded.split()) and (len(rest) < MIN_LENGTH or _guessable(rest, inputs)):
        return f"This password is too easy to guess. {CONTEXT_HINT}"
    return None


def _prehash(password):
    # bcrypt reads at most 72 bytes; pre-hashing keeps every character significant.
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


def hash_password(password):
    rounds = current_app.config["BCRYPT_ROUNDS"]
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


@lru_cache(maxsize=8)
def _dummy_hash(rounds):
    """A hash of nothing in particular, at the configured cost (made once per cost)."""
    return bcrypt.hashpw(b"no such account", bcrypt.gensalt(rounds))


def check_password(password, hashed):
    """True when `password` matches `hashed`; costs one bcrypt check at the configured rounds either way.

    Unknown accounts and accounts without a password (invited) are checked against
    a dummy hash of the same cost, so timing does not tell them from a wrong password.
    """
    candidate = _prehash(password if isinstance(password, str) else "")
    if not hashed or not isinstance(password, str):
        bcrypt.checkpw(candidate, _dummy_hash(current_app.config["BCRYPT_ROUNDS"]))
        return False
    return bcrypt.checkpw(candidate, hashed.encode("ascii"))
