"""Passwords: NIST SP 800-63B checks and bcrypt hashing.

Rules: at least 12 characters, up to 128 (NIST: allow at least 64), any
characters, no composition rules; refuse passwords found in zxcvbn's list of
30,000 common/breached passwords or that zxcvbn judges easily guessable
(dictionary words, keyboard patterns, repeats, or the user's own name,
email and clinic).
"""
import base64
import hashlib

import bcrypt
from flask import current_app
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 12
MAX_LENGTH = 128
_COMMON = frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(password, user_inputs=()):
    """A message saying why `password` is unacceptable, or None when it is fine."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters. A few unrelated words make a strong password."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    if password.lower() in _COMMON:
        return "This password is on a list of common or breached passwords. Choose another."
    inputs = [str(i).lower() for i in user_inputs if i]
    parts = [p for item in inputs for p in item.replace("@", " ").replace(".", " ").split() if len(p) > 2]
    inputs += parts
    # zxcvbn refuses more than 72 characters; the first 72 decide a long password's strength.
    result = zxcvbn(password[:72], user_inputs=inputs)
    if result["score"] < 3:
        hint = result["feedback"].get("warning") or "Add a few more unrelated words."
        return f"This password is too easy to guess. {hint}".strip()
    return None


def _prehash(password):
    # bcrypt reads at most 72 bytes; pre-hashing keeps every character significant.
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


def hash_password(password):
    rounds = current_app.config["BCRYPT_ROUNDS"]
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def check_password(password, hashed):
    if not hashed or not isinstance(password, str):
        # Spend the same time as a real check so unknown users are not revealed by timing.
        bcrypt.checkpw(b"x", _DUMMY_HASH)
        return False
    return bcrypt.checkpw(_prehash(password), hashed.encode("ascii"))


_DUMMY_HASH = bcrypt.hashpw(b"x", bcrypt.gensalt(4))
