#!/usr/bin/env python3
"""Independent reference verifier for share-audit auditor's packages.

Written from specs/*.md only (no Rust source was read).  It implements steps 1-5 of
package.md §The audit and, of step 6, the checks of the package's calendar files (against
the built-in national files, the repository's calendar/*.txt, and calendar.md's rules);
the findings themselves are not computed, nor is step 7 (`--checkpoint`).

    python3 specs/reference/verify.py PKG --policy FILE

Output: one `FAIL <where>: <code>: <message>` line per failure (codes of package.md §Report;
`where` is a package file path, `entry <i>`, `checkpoint <n>` or `<history bundle path>:
checkpoint <n>`; control characters escaped, see escape_controls), one `FLAG
signed_after_compromise entry <i> ...` line for every flag (none left out), then
`entries N checkpoints C failures F flags G` and `VALID` or `INVALID`.
Exit status: 0 valid, 1 invalid, 2 usage error (package.md §The audit, policy.md).

Dependencies: the Python 3 standard library.  Ed25519 is implemented here in pure Python,
because the signature rule (attestation.md §Signature rule) needs checks and a cofactored
equation that no ordinary Ed25519 library exposes.  If the `cryptography` package is
installed it is used to accept ordinary valid signatures faster (see _fast_cofactorless);
it never decides a rejection.  VERIFY_PURE_PYTHON=1 turns it off.
"""

import argparse
import base64
import collections
import datetime
import functools
import hashlib
import os
import re
import stat
import sys
import unicodedata

try:        # optional, for speed only (see _fast_cofactorless); the verdicts do not depend on it
    from cryptography.hazmat.primitives.asymmetric.ed25519 import \
        Ed25519PublicKey as _Ed25519PublicKey
except ImportError:
    _Ed25519PublicKey = None
if os.environ.get("VERIFY_PURE_PYTHON"):       # tests: run the pure-Python checks alone
    _Ed25519PublicKey = None

# --------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------

MAX_SAFE_INT = 2**53 - 1                      # attestation.md §Strict JSON (RFC 7493 §2.2)
MAX_DEPTH = 16                                # attestation.md §Strict JSON
MAX_STATEMENT = 65_388                        # attestation.md §Submission, entry.md
SIGNED_AT_BEFORE = 86_400_000                 # lifecycle.md §Rules, every statement 2.
SIGNED_AT_AFTER = 300_000
DEDUP_WINDOW = SIGNED_AT_BEFORE + SIGNED_AT_AFTER   # package.md §The audit step 4
MAX_SIZE = 2**24                              # our bound: a reference verifier, not a production one
MAX_FILE = 256 * (2 + 65_535)                 # package.md §Report: 16,777,472 bytes
MAX_LISTED = 1000                             # package.md §The audit, Report
TILE_WIDTH = 256                              # C2SP tlog-tiles, tile height 8
ATTESTATION_PREFIX = b"share-audit/attestation/v1\n"   # attestation.md §Signature rule
EMPTY_ROOT = hashlib.sha256(b"").digest()    # merkle.md §Hashes

# Unicode White_Space property (attestation.md §Field types, type `text`).  Python's
# str.isspace() is not this set (it also accepts U+001C..U+001F), so it is spelled out.
WHITE_SPACE = frozenset(
    "\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000")


class Failure(Exception):
    """A failure: a code (package.md §Report, or a lifecycle.md refusal code inside the
    registry, reported as `refused`) and a message."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


# --------------------------------------------------------------------------------------------
# Encodings (README.md §Conventions)
# --------------------------------------------------------------------------------------------

DECIMAL_RE = re.compile(r"0|[1-9][0-9]*")      # used with fullmatch: no "$" newline


def parse_decimal(s):
    """README.md §Conventions: ASCII digits, no sign, no leading zeroes. None if not."""
    if isinstance(s, bytes):
        try:
            s = s.decode("ascii")
        except UnicodeDecodeError:
            return None
    return int(s) if DECIMAL_RE.fullmatch(s) else None


def b64decode_canonical(s, length=None):
    """Standard base64 with padding (RFC 4648 §4), read canonically: the value must re-encode
    to exactly the same text (no stray bits, no missing padding).  None if not."""
    if isinstance(s, str):
        try:
            s = s.encode("ascii")
        except UnicodeEncodeError:
            return None
    try:
        raw = base64.b64decode(s, validate=True)
    except (ValueError, TypeError):
        return None
    if base64.b64encode(raw) != s:
        return None
    if length is not None and len(raw) != length:
        return None
    return raw


def b64(raw):
    return base64.b64encode(raw).decode("ascii")


# --------------------------------------------------------------------------------------------
# Ed25519 in pure Python (RFC 8032), with the exact checks of checkpoint.md §Keys and
# §Signed notes and attestation.md §Signature rule.
# --------------------------------------------------------------------------------------------

ED_P = 2**255 - 19
ED_L = 2**252 + 27742317777372353535851937790883648493
ED_D = (-121665 * pow(121666, ED_P - 2, ED_P)) % ED_P
ED_SQRT_M1 = pow(2, (ED_P - 1) // 4, ED_P)
ED_IDENTITY = (0, 1, 1, 0)   # extended coordinates (X, Y, Z, T)


def _ed_add(p1, p2):
    """RFC 8032 §5.1.4 point addition (complete, also used for doubling)."""
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % ED_P
    b = (y1 + x1) * (y2 + x2) % ED_P
    c = t1 * 2 * ED_D * t2 % ED_P
    d = z1 * 2 * z2 % ED_P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % ED_P, g * h % ED_P, f * g % ED_P, e * h % ED_P)


def _ed_neg(pt):
    x, y, z, t = pt
    return (-x % ED_P, y, z, -t % ED_P)


def _ed_mul(scalar, pt):
    result = ED_IDENTITY
    while scalar > 0:
        if scalar & 1:
            result = _ed_add(result, pt)
        pt = _ed_add(pt, pt)
        scalar >>= 1
    return result


def _ed_is_identity(pt):
    x, y, z, _ = pt
    return x % ED_P == 0 and (y - z) % ED_P == 0


def ed_decode(data):
    """RFC 8032 §5.1.3 decoding, canonical only: y < p, x = 0 with sign 1 rejected.
    Returns a point or None."""
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= ED_P:
        return None
    u = (y * y - 1) % ED_P
    v = (ED_D * y * y + 1) % ED_P
    # x = sqrt(u/v) with one exponentiation: x = u v^3 (u v^7)^((p-5)/8) (RFC 8032 §5.1.3)
    v3 = v * v * v % ED_P
    x = u * v3 * pow(u * v3 * v3 * v, (ED_P - 5) // 8, ED_P) % ED_P
    if (v * x * x - u) % ED_P != 0:
        x = x * ED_SQRT_M1 % ED_P
    if (v * x * x - u) % ED_P != 0:
        return None
    if x == 0:
        if sign:
            return None
    elif (x & 1) != sign:
        x = ED_P - x
    return (x, y, 1, x * y % ED_P)


_BY = 4 * pow(5, ED_P - 2, ED_P) % ED_P
ED_BASE = ed_decode(_BY.to_bytes(32, "little"))


def ed_is_small_order(pt):
    return _ed_is_identity(_ed_mul(8, pt))


def is_strong_key(raw):
    """checkpoint.md §Keys, weak keys: canonical encoding, not of small order, and in the
    prime-order subgroup ([l]A = O)."""
    pt = ed_decode(raw)
    if pt is None or ed_is_small_order(pt):
        return False
    return _ed_is_identity(_ed_mul(ED_L, pt))


@functools.lru_cache(maxsize=4096)
def _ed_checked_point(data):
    """A canonical encoding of a point not of small order, decoded; None otherwise.  Cached:
    the same department or log key is checked for every signature it made."""
    pt = ed_decode(data)
    if pt is None or ed_is_small_order(pt):
        return None
    return pt


def _ed_prepare(public, signature, message):
    """Input checks shared by both rules: S canonical, A and R canonical encodings that
    decode, neither of small order.  Returns (A, R, S, k) or None."""
    if len(public) != 32 or len(signature) != 64:
        return None
    r_bytes, s_bytes = signature[:32], signature[32:]
    s = int.from_bytes(s_bytes, "little")
    if s >= ED_L:
        return None
    a_pt = _ed_checked_point(bytes(public))
    r_pt = _ed_checked_point(bytes(r_bytes))
    if a_pt is None or r_pt is None:
        return None
    k = int.from_bytes(hashlib.sha512(r_bytes + public + message).digest(), "little") % ED_L
    return a_pt, r_pt, s, k


def _ed_residue(prepared):
    """[S]B - R - [k]A: the identity exactly when the cofactorless equation holds."""
    a_pt, r_pt, s, k = prepared
    return _ed_add(_ed_mul(s, ED_BASE), _ed_neg(_ed_add(r_pt, _ed_mul(k, a_pt))))


def _fast_cofactorless(public, signature, message):
    """Speed only, never a verdict on its own: True if an ordinary Ed25519 library (OpenSSL,
    through the optional `cryptography` package) accepts the signature.  An ordinary verifier
    checks the cofactorless equation [S]B = R + [k]A, comparing encodings; with A and R already
    checked canonical (by _ed_prepare) that is the equation of verify_strict, and it implies
    the cofactored one.  False means "not shown", and the pure-Python check decides."""
    if _Ed25519PublicKey is None:
        return False
    try:
        _Ed25519PublicKey.from_public_bytes(bytes(public)).verify(bytes(signature), message)
        return True
    except Exception:       # InvalidSignature, or a key the library will not load
        return False


_SIGNATURE_CACHE = {}       # (rule, public, signature, SHA-256(message)) -> bool


def _cached(rule, public, signature, message, check):
    key = (rule, bytes(public), bytes(signature), hashlib.sha256(message).digest())
    if key not in _SIGNATURE_CACHE:
        _SIGNATURE_CACHE[key] = check()
    return _SIGNATURE_CACHE[key]


def verify_attestation_signature(public, signature, message):
    """attestation.md §Signature rule: checks 1-2, then the cofactored equation
    [8][S]B = [8]R + [8][k]A (computed as [8]([S]B - R - [k]A) = O)."""
    def check():
        prepared = _ed_prepare(public, signature, message)
        if prepared is None:
            return False
        if _fast_cofactorless(public, signature, message):
            return True
        return _ed_is_identity(_ed_mul(8, _ed_residue(prepared)))
    return _cached("attestation", public, signature, message, check)


def verify_note_signature(public, signature, message):
    """checkpoint.md §Signed notes: ed25519-dalek verify_strict, i.e. the same input checks
    and the cofactorless equation [S]B = R + [k]A."""
    def check():
        prepared = _ed_prepare(public, signature, message)
        if prepared is None:
            return False
        if _fast_cofactorless(public, signature, message):
            return True
        return _ed_is_identity(_ed_residue(prepared))
    return _cached("note", public, signature, message, check)


# --------------------------------------------------------------------------------------------
# Field types (attestation.md §Field types)
# --------------------------------------------------------------------------------------------

IDENTIFIER_RE = re.compile(r"[A-Za-z0-9._:/\-]{1,128}")
DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def is_identifier(s):
    return isinstance(s, str) and IDENTIFIER_RE.fullmatch(s) is not None


def is_origin(s):
    """1-255 bytes of UTF-8, no White_Space, no Cc, no '+' or '#'."""
    if not isinstance(s, str):
        return False
    try:
        n = len(s.encode("utf-8"))
    except UnicodeEncodeError:      # lone surrogate
        return False
    if not 1 <= n <= 255:
        return False
    return not any(c in WHITE_SPACE or c in "+#" or unicodedata.category(c) == "Cc" for c in s)


def is_key_name(s):
    """checkpoint.md §Keys: a key name has no Unicode space and no '+' (and is non-empty)."""
    return bool(s) and not any(c in WHITE_SPACE or c == "+" for c in s)


def is_text(s):
    return isinstance(s, str) and any(c not in WHITE_SPACE for c in s)


def is_date(s):
    if not isinstance(s, str):
        return False
    m = DATE_RE.fullmatch(s)
    if not m:
        return False
    year, month, day = (int(g) for g in m.groups())
    if not 1 <= month <= 12:
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    return 1 <= day <= days


def is_int(v):
    return type(v) is int     # bool is a subclass of int in Python: excluded on purpose


# --------------------------------------------------------------------------------------------
# Strict JSON (attestation.md §Strict JSON)
# --------------------------------------------------------------------------------------------

JSON_WS = " \t\n\r"
NUMBER_RE = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
PLAIN_RUN_RE = re.compile(r'[^"\\\x00-\x1f]+')
ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class StrictJSONParser:
    """RFC 8259 parser with the rejections of attestation.md §Strict JSON: duplicate names,
    non-integers, integers beyond +-(2^53-1), -0, depth > 16, unpaired surrogates,
    trailing non-whitespace.  UTF-8 and BOM are handled by parse_strict_json."""

    def __init__(self, text):
        self.s = text
        self.i = 0

    def error(self, msg):
        raise Failure("bad_entry", f"JSON at offset {self.i}: {msg}")

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in JSON_WS:
            self.i += 1

    def value(self, level):
        self.ws()
        if self.i >= len(self.s):
            self.error("unexpected end")
        c = self.s[self.i]
        if c == "{":
            return self.obj(level + 1)
        if c == "[":
            return self.arr(level + 1)
        if c == '"':
            return self.string()
        for lit, val in (("true", True), ("false", False), ("null", None)):
            if self.s.startswith(lit, self.i):
                self.i += len(lit)
                return val
        if c == "-" or c.isdigit():
            return self.number()
        self.error(f"unexpected character {c!r}")

    def obj(self, level):
        if level > MAX_DEPTH:
            self.error("nesting deeper than 16")
        self.i += 1
        out = {}
        self.ws()
        if self.s.startswith("}", self.i):
            self.i += 1
            return out
        while True:
            self.ws()
            if not self.s.startswith('"', self.i):
                self.error("expected member name")
            name = self.string()
            if name in out:
                self.error(f"duplicate member {name!r}")
            self.ws()
            if not self.s.startswith(":", self.i):
                self.error("expected ':'")
            self.i += 1
            out[name] = self.value(level)
            self.ws()
            if self.s.startswith(",", self.i):
                self.i += 1
                continue
            if self.s.startswith("}", self.i):
                self.i += 1
                return out
            self.error("expected ',' or '}'")

    def arr(self, level):
        if level > MAX_DEPTH:
            self.error("nesting deeper than 16")
        self.i += 1
        out = []
        self.ws()
        if self.s.startswith("]", self.i):
            self.i += 1
            return out
        while True:
            out.append(self.value(level))
            self.ws()
            if self.s.startswith(",", self.i):
                self.i += 1
                continue
            if self.s.startswith("]", self.i):
                self.i += 1
                return out
            self.error("expected ',' or ']'")

    def hex4(self):
        h = self.s[self.i:self.i + 4]
        if len(h) != 4 or any(c not in "0123456789abcdefABCDEF" for c in h):
            self.error("bad \\u escape")
        self.i += 4
        return int(h, 16)

    def string(self):
        self.i += 1
        out = []
        while True:
            if self.i >= len(self.s):
                self.error("unterminated string")
            c = self.s[self.i]
            if c == '"':
                self.i += 1
                return "".join(out)
            if ord(c) < 0x20:
                self.error("unescaped control character in string")
            if c != "\\":
                run = PLAIN_RUN_RE.match(self.s, self.i)     # characters needing no care
                out.append(run.group(0))
                self.i = run.end()
                continue
            self.i += 1
            e = self.s[self.i:self.i + 1]
            self.i += 1
            if e in ESCAPES:
                out.append(ESCAPES[e])
            elif e == "u":
                cp = self.hex4()
                if 0xD800 <= cp <= 0xDBFF:
                    if not self.s.startswith("\\u", self.i):
                        self.error("unpaired surrogate escape")
                    self.i += 2
                    lo = self.hex4()
                    if not 0xDC00 <= lo <= 0xDFFF:
                        self.error("unpaired surrogate escape")
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                elif 0xDC00 <= cp <= 0xDFFF:
                    self.error("unpaired surrogate escape")
                out.append(chr(cp))
            else:
                self.error("bad escape")

    def number(self):
        m = NUMBER_RE.match(self.s, self.i)
        if not m or m.end() == self.i or m.group(0) == "-":
            self.error("bad number")
        if m.group(2) or m.group(3):
            self.error(f"number {m.group(0)!r} is not written as an integer")
        if m.group(0) == "-0":
            self.error("-0 is not allowed")
        self.i = m.end()
        v = int(m.group(0))
        if abs(v) > MAX_SAFE_INT:
            self.error(f"number {m.group(0)} outside +-(2^53-1)")
        return v


def parse_strict_json(data):
    """attestation.md §Strict JSON: UTF-8 only, no BOM, one value, only JSON whitespace after."""
    if data.startswith(b"\xef\xbb\xbf"):
        raise Failure("bad_entry", "byte-order mark")
    try:
        text = data.decode("utf-8")     # strict: rejects invalid UTF-8 and encoded surrogates
    except UnicodeDecodeError as e:
        raise Failure("bad_entry", f"not UTF-8 at byte {e.start}")
    p = StrictJSONParser(text)
    v = p.value(0)
    p.ws()
    if p.i != len(text):
        p.error("data after the JSON value")
    return v


# --------------------------------------------------------------------------------------------
# Statement schema (attestation.md §Statements, §Field types, §Kinds)
# --------------------------------------------------------------------------------------------

METHODS = ("service_interface", "batch_exchange", "file_download")
ROLES = ("supervisor", "provider", "requester", "source", "auditor")


def _t_identifier(v):
    return is_identifier(v)


def _t_text(v):
    return is_text(v)


def _t_texts(v):
    return isinstance(v, list) and len(v) > 0 and all(is_text(x) for x in v)


def _t_identifiers(v):        # array of identifiers, may be empty
    return isinstance(v, list) and all(is_identifier(x) for x in v)


def _t_key(v):
    return isinstance(v, str) and b64decode_canonical(v, 32) is not None


def _t_digest(v):
    return isinstance(v, str) and DIGEST_RE.fullmatch(v) is not None


def _t_date(v):
    return is_date(v)


def _t_ms(v):
    return is_int(v) and 0 <= v <= MAX_SAFE_INT


def _t_true(v):               # application.declaration: boolean, MUST be true
    return v is True


def _t_roles(v):
    return isinstance(v, list) and len(v) > 0 and all(isinstance(x, str) and x in ROLES for x in v)


def _t_other(v):
    """application.other: object of 1..32 members, names text of <= 128 characters,
    values text."""
    return (isinstance(v, dict) and 1 <= len(v) <= 32
            and all(is_text(k) and len(k) <= 128 and is_text(x) for k, x in v.items()))


def _t_enum(*names):
    return lambda v: isinstance(v, str) and v in names


def _t_int_range(lo, hi):
    return lambda v: is_int(v) and lo <= v <= hi


ID, TEXT, TEXTS, IDS, KEY = _t_identifier, _t_text, _t_texts, _t_identifiers, _t_key
DIGEST, DATE, MS = _t_digest, _t_date, _t_ms

# Body schemas; a name ending in '?' is optional (attestation.md §Field types).
BODY_SCHEMAS = {
    # registry kinds
    "department": {"id": ID, "name": TEXT, "roles": _t_roles, "jurisdiction": TEXT},
    "department_key": {"department": ID, "key": KEY, "valid_from?": MS, "valid_until?": MS,
                       "replaces?": KEY},
    "key_revocation": {"department": ID, "key": KEY, "reason": TEXT, "compromised_since?": MS},
    "log_key": {"key": KEY},
    # catalog kinds
    "catalog_entry": {"item": ID, "name": TEXT, "data_items": TEXTS, "format": TEXT,
                      "update_frequency": TEXT,
                      "share_attribute": _t_enum("unconditional", "conditional", "not_shareable"),
                      "sharing_method": _t_enum(*METHODS), "conditions?": TEXTS, "reason?": TEXT,
                      "legal_basis?": TEXT, "classification": TEXT, "change?": ID},
    "service_change_filing": {"item": ID, "change": _t_enum("change", "stop"), "reason": TEXT,
                              "consulted": IDS},
    # case kinds
    "application": {"case": ID, "item": ID, "provider": ID, "data_items": TEXTS,
                    "legal_basis": TEXT, "use_scenario": TEXT, "scope_of_use": TEXT,
                    "sharing_method": _t_enum(*METHODS), "use_until": DATE, "approved_by": TEXT,
                    "declaration": _t_true, "other?": _t_other},
    "materials_incomplete": {"case": ID, "missing": TEXTS},
    "materials_supplement": {"case": ID, "supplied": TEXTS},
    "approval": {"case": ID, "conditions?": TEXTS},
    "rejection": {"case": ID, "reasons": TEXTS, "legal_basis?": TEXT},
    "reply_extension": {"case": ID, "working_days": _t_int_range(1, 10), "reason": TEXT},
    "delivery": {"case": ID, "method": _t_enum(*METHODS), "data_digest": DIGEST,
                 "description?": TEXT},
    "delivery_receipt": {"case": ID, "data_digest": DIGEST},
    "correction_request": {"case": ID, "request": ID, "problems": TEXTS},
    "correction_result": {"case": ID, "request": ID,
                          "outcome": _t_enum("corrected", "verified_correct", "cannot_correct"),
                          "description": TEXT, "data_digest?": DIGEST},
    "usage_record": {"case": ID, "use_scenario": TEXT, "use_process": TEXT, "outcome": TEXT,
                     "storage_status": TEXT, "destruction_status": TEXT},
    "disposal": {"case": ID, "method": _t_enum("deleted", "destroyed", "returned"),
                 "description": TEXT},
    "suspension": {"case": ID, "reason": TEXT, "rectify_by?": DATE},
    "termination": {"case": ID, "reason": TEXT},
    "consent": {"case": ID, "scope": _t_enum("wider_use", "third_party"), "third_party?": ID,
                "description": TEXT},
    # other matters with a clock
    "catalog_change_notice": {"change": ID, "provider": ID, "items": IDS, "basis": TEXT},
    "catalog_update_extension": {"change": ID, "working_days": _t_int_range(1, 5),
                                 "reason": TEXT},
    "catalog_publication": {"change": ID, "items": IDS},
    "dispute": {"dispute": ID, "with": ID, "supervisor": ID, "case?": ID, "subject": TEXT},
    "dispute_escalation": {"dispute": ID, "to": ID, "reason": TEXT},
    "dispute_resolution": {"dispute": ID, "outcome": TEXT},
    "return_flow_request": {"request": ID, "to": ID, "data_items": TEXTS, "region": TEXT},
    "return_flow": {"request": ID, "data_digest": DIGEST, "description?": TEXT},
}

REGISTRY_KINDS = {"department", "department_key", "key_revocation", "log_key"}
CASE_KINDS = {"application", "materials_incomplete", "materials_supplement", "approval",
              "rejection", "reply_extension", "delivery", "delivery_receipt",
              "correction_request", "correction_result", "usage_record", "disposal",
              "suspension", "termination", "consent"}


def check_members(obj, schema, where):
    """Required/optional members, no unknown member, each of its type (null never is)."""
    if not isinstance(obj, dict):
        raise Failure("bad_entry", f"{where} is not a JSON object")
    names = {}
    for spec, check in schema.items():
        names[spec.rstrip("?")] = (spec.endswith("?"), check)
    for name in obj:
        if name not in names:
            raise Failure("bad_entry", f"unknown member {where}.{name}")
    for name, (optional, check) in names.items():
        if name not in obj:
            if not optional:
                raise Failure("bad_entry", f"missing member {where}.{name}")
            continue
        if not check(obj[name]):
            raise Failure("bad_entry", f"{where}.{name} has a wrong type or value")


class Statement:
    """A statement read strictly; keys are held as raw 32-byte values."""

    def __init__(self, raw, obj):
        self.raw = raw
        self.kind = obj["kind"]
        self.log = obj["log"]
        self.department = obj["signer"]["department"]
        self.key = b64decode_canonical(obj["signer"]["key"], 32)
        self.signed_at = obj["signed_at"]
        self.body = obj["body"]

    def body_key(self, name):
        v = self.body.get(name)
        return None if v is None else b64decode_canonical(v, 32)


def parse_statement(raw):
    """attestation.md §Statements: size bound, strict JSON, top level, signer and body schema,
    then the kind-specific conditions written in the kinds' tables."""
    if len(raw) > MAX_STATEMENT:
        raise Failure("bad_entry", f"statement is {len(raw)} bytes, more than 65,388")
    obj = parse_strict_json(raw)
    if not isinstance(obj, dict):
        raise Failure("bad_entry", "statement is not a JSON object")
    # version is checked first so that another version is reported as unsupported
    if "version" in obj and is_int(obj["version"]) and obj["version"] != 1:
        raise Failure("bad_entry", f"statement version {obj['version']} is not supported")
    kind = obj.get("kind")
    if not isinstance(kind, str) or kind not in BODY_SCHEMAS:
        raise Failure("bad_entry", f"unknown or missing kind {kind!r}")
    check_members(obj, {"version": _t_int_range(1, 1), "kind": lambda v: True,
                        "log": is_origin, "signer": lambda v: True, "signed_at": MS,
                        "body": lambda v: True}, "statement")
    check_members(obj["signer"], {"department": ID, "key": KEY}, "signer")
    body = obj["body"]
    check_members(body, BODY_SCHEMAS[kind], "body")
    if kind == "catalog_entry":
        attr = body["share_attribute"]
        if attr == "conditional" and "conditions" not in body:
            raise Failure("bad_entry", "conditional catalog entry without conditions")
        if attr == "not_shareable" and ("reason" not in body or "legal_basis" not in body):
            raise Failure("bad_entry", "not_shareable without reason and legal_basis")
        if attr == "unconditional" and "conditions" in body:
            raise Failure("bad_entry", "unconditional catalog entry with conditions")
    if kind == "consent":
        if body["scope"] == "third_party" and "third_party" not in body:
            raise Failure("bad_entry", "consent to a third party without third_party")
        if body["scope"] == "wider_use" and "third_party" in body:
            raise Failure("bad_entry", "consent to wider use with third_party")
    return Statement(raw, obj)


# --------------------------------------------------------------------------------------------
# Log entries (entry.md)
# --------------------------------------------------------------------------------------------

ENTRY_HEADER_RE = re.compile(
    rb"share-audit/entry/v1\ntime (0|[1-9][0-9]{0,19})\nsignature ([A-Za-z0-9+/=]{88})\n\n")


def parse_entry(entry):
    """entry.md: the one encoding of the header; returns (time, signature, statement bytes)."""
    m = ENTRY_HEADER_RE.match(entry)
    if not m:
        raise Failure("bad_entry", "entry header does not parse (entry.md)")
    time = int(m.group(1))
    if time >= 2**64:
        raise Failure("bad_entry", "entry time does not fit 64 bits")
    sig = b64decode_canonical(m.group(2), 64)
    if sig is None:
        raise Failure("bad_entry", "signature is not 64 bytes of canonical base64")
    return time, sig, entry[m.end():]


# --------------------------------------------------------------------------------------------
# Merkle tree (merkle.md, RFC 9162 §2.1)
# --------------------------------------------------------------------------------------------

def leaf_hash(entry):
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def build_levels(leaves):
    """levels[h][j] = hash of the complete subtree of 2^h leaves starting at j*2^h, or None
    where a leaf below it is unknown (a missing entry bundle)."""
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        above = []
        for j in range(len(below) // 2):
            left, right = below[2 * j], below[2 * j + 1]
            above.append(None if left is None or right is None else node_hash(left, right))
        levels.append(above)
    return levels


def tree_root(levels, size):
    """MTH(D[0:size)) (merkle.md §Hashes), folded from the complete subtrees of size's binary
    decomposition, right to left.  None if a needed leaf is unknown."""
    if size == 0:
        return EMPTY_ROOT
    parts, start = [], 0
    for h in reversed(range(size.bit_length())):
        if size >> h & 1:
            if h >= len(levels) or (start >> h) >= len(levels[h]):
                return None
            parts.append(levels[h][start >> h])
            start += 1 << h
    if any(p is None for p in parts):
        return None
    root = parts[-1]
    for p in reversed(parts[:-1]):
        root = node_hash(p, root)
    return root


# --------------------------------------------------------------------------------------------
# Tile paths (C2SP tlog-tiles; package.md §Layout)
# --------------------------------------------------------------------------------------------

def index_path(n):
    """Index as 3-digit path elements, all but the last prefixed with 'x'."""
    parts = [f"{n % 1000:03d}"]
    n //= 1000
    while n > 0:
        parts.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(parts))


def tile_path(prefix, n, width):
    """prefix is 'tile/<L>', 'tile/entries' or 'checkpoints'; width 256 means full."""
    path = f"{prefix}/{index_path(n)}"
    return path if width == TILE_WIDTH else f"{path}.p/{width}"


def width_in(count, n):
    """Width of tile n of a level holding `count` items: 256, the partial width, or 0."""
    full = count // TILE_WIDTH
    if n < full:
        return TILE_WIDTH
    if n == full:
        return count % TILE_WIDTH
    return 0


def required_tiles(count):
    """(n, width) of every tile a level of `count` items requires."""
    out = [(n, TILE_WIDTH) for n in range(count // TILE_WIDTH)]
    if count % TILE_WIDTH:
        out.append((count // TILE_WIDTH, count % TILE_WIDTH))
    return out


TILE_NAME_RE = re.compile(
    r"^(tile/(?:entries|[0-9]{1,2})|checkpoints)/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([0-9]{1,3}))?$")


def parse_tile_name(rel):
    """Returns (prefix, n, width) for a well-named tile/bundle path, else None.  Well-named
    means it re-encodes to exactly the same path (level 0..63, width 1..255, minimal index)."""
    m = TILE_NAME_RE.fullmatch(rel)
    if not m:
        return None
    prefix = m.group(1)
    if prefix.startswith("tile/") and prefix != "tile/entries":
        level = parse_decimal(prefix[5:])
        if level is None or level > 63:
            return None
    n = 0
    for seg in m.group(2).split("/"):
        n = n * 1000 + int(seg.lstrip("x"))
    width = TILE_WIDTH
    if m.group(3) is not None:
        width = parse_decimal(m.group(3))
        if width is None or not 1 <= width <= 255:
            return None
    if tile_path(prefix, n, width) != rel:
        return None
    return prefix, n, width


def split_bundle(data, count):
    """A bundle: `count` items, each prefixed by a big-endian uint16 length, nothing left over."""
    items, pos = [], 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise Failure("bad_bundle", f"truncated length prefix at byte {pos}")
        n = int.from_bytes(data[pos:pos + 2], "big")
        pos += 2
        if pos + n > len(data):
            raise Failure("bad_bundle", f"item {len(items)} length {n} runs past the end")
        items.append(data[pos:pos + n])
        pos += n
    if len(items) != count:
        raise Failure("bad_bundle", f"holds {len(items)} items, expected {count}")
    return items


def join_bundle(items):
    return b"".join(len(x).to_bytes(2, "big") + x for x in items)


# --------------------------------------------------------------------------------------------
# Keys and the trust policy (checkpoint.md §Keys, policy.md)
# --------------------------------------------------------------------------------------------

def key_id(name, key_type, public):
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([key_type]) + public).digest()[:4]


def parse_verifier_key(text):
    """checkpoint.md §Keys: name "+" hex(key ID, 8) "+" base64(type || key).  Type 0x01 only,
    the key ID must match, the key must pass the weak-key check.  Returns (name, public)."""
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise ValueError(f"not a verifier key: {text!r}")
    name, hexid, rest = parts
    if not is_key_name(name):
        raise ValueError(f"bad key name {name!r}")
    if not re.fullmatch(r"[0-9a-f]{8}", hexid):
        raise ValueError(f"bad key ID {hexid!r}")
    raw = b64decode_canonical(rest, 33)
    if raw is None:
        raise ValueError(f"key of {name!r} is not base64 of 33 bytes")
    if raw[0] != 0x01:
        raise ValueError(f"key of {name!r} is not type 0x01")
    public = raw[1:]
    if key_id(name, 0x01, public).hex() != hexid:
        raise ValueError(f"key ID of {name!r} does not match the key")
    if not is_strong_key(public):
        raise ValueError(f"key of {name!r} is weak (checkpoint.md §Keys)")
    return name, public


class Root:
    """A `root` or `log` line of the policy: a key and its range of entry indexes
    (policy.md §Root key rotation, §Log key rotation)."""

    def __init__(self, name, key, start, until):
        self.name, self.key, self.start, self.until = name, key, start, until

    def in_force(self, index):
        return self.start <= index and (self.until is None or index < self.until)

    def signs_size(self, size):
        """policy.md §Log key rotation: a log key signs the checkpoints whose newest entry
        (index size - 1) is in its range, and the empty tree's if its range starts at 0."""
        return self.start == 0 if size == 0 else self.in_force(size - 1)

    def range_text(self):
        return f"from {self.start}" + ("" if self.until is None else f" until {self.until}")


class Policy:
    def __init__(self, origin, log_lines, roots):
        self.origin = origin
        self.log_lines = {r.key: r for r in log_lines}  # public key -> Root (name is origin)
        self.log_keys = [r.key for r in log_lines]       # public keys, in policy order
        self.roots = roots                # list of Root
        self.root_keys = {r.key for r in roots}
        self.root_names = {r.name for r in roots}


def strip_bom(data):
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def split_white_space(s):
    return [w for w in re.split("[" + "".join(sorted(WHITE_SPACE)) + "]+", s) if w]


def parse_policy(data):
    """policy.md §Lines and §Rules.  Raises ValueError (with line number) if unusable."""
    data = strip_bom(data)     # package.md §The audit compares policies "a UTF-8 BOM aside"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("policy is not UTF-8")
    log_entries, roots, seen = [], [], set()
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.split("#", 1)[0]
        words = split_white_space(line)
        if not words:
            continue
        try:
            directive = words[0]
            if directive not in ("log", "root"):
                raise ValueError(f"unknown directive {directive!r}")
            if len(words) < 2:
                raise ValueError(f"a {directive} line needs a verifier key")
            name, public = parse_verifier_key(words[1])
            # policy.md §Lines: then optionally `from` and a decimal, then optionally `until`
            # and a decimal, for `log` lines too (§Log key rotation: counted as a root key's)
            rest, start, until = words[2:], 0, None
            if rest[:1] == ["from"]:
                if len(rest) < 2 or parse_decimal(rest[1]) is None:
                    raise ValueError("'from' needs a decimal")
                start, rest = parse_decimal(rest[1]), rest[2:]
            if rest[:1] == ["until"]:
                if len(rest) < 2 or parse_decimal(rest[1]) is None:
                    raise ValueError("'until' needs a decimal")
                until, rest = parse_decimal(rest[1]), rest[2:]
            if rest:
                raise ValueError(f"unexpected {' '.join(rest)!r}")
            if until is not None and until <= start:
                raise ValueError("'until' must be greater than 'from'")
            if directive == "log":
                log_entries.append(Root(name, public, start, until))
            else:
                if not is_identifier(name):
                    raise ValueError(f"root name {name!r} is not an identifier")
                roots.append(Root(name, public, start, until))
            if public in seen:
                raise ValueError("a public key appears twice")
            seen.add(public)
        except ValueError as e:
            raise ValueError(f"line {lineno}: {e}")
    if not log_entries:
        raise ValueError("no log line")
    if not roots:
        raise ValueError("no root line")
    names = {r.name for r in log_entries}
    if len(names) != 1:
        raise ValueError("log keys have different names")
    origin = names.pop()
    if not is_origin(origin):
        raise ValueError(f"log name {origin!r} is not an origin")
    return Policy(origin, log_entries, roots)


# --------------------------------------------------------------------------------------------
# Signed notes and checkpoints (checkpoint.md §Signed notes, §Checkpoints)
# --------------------------------------------------------------------------------------------

def parse_note(data):
    """Split a signed note into text and signature lines [(name, sig bytes)]."""
    if len(data) > 65536:
        raise Failure("bad_checkpoint", "note larger than 64 KiB")
    try:
        s = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Failure("bad_checkpoint", "note is not UTF-8")
    if any(unicodedata.category(c) == "Cc" and c != "\n" for c in s):
        raise Failure("bad_checkpoint", "note holds a control character")
    if not s.endswith("\n"):
        raise Failure("bad_checkpoint", "note does not end in a newline")
    cut = s.rfind("\n\n")
    if cut < 0:
        raise Failure("bad_checkpoint", "note has no blank line before its signatures")
    text, block = s[:cut + 1], s[cut + 2:]
    lines = block.split("\n")[:-1]
    if not lines:
        raise Failure("bad_checkpoint", "note has no signature line")
    if len(lines) > 64:
        raise Failure("bad_checkpoint", "more than 64 signature lines")
    sigs = []
    for line in lines:
        m = re.fullmatch(r"\u2014 (\S+) (\S+)", line)
        if not m or not is_key_name(m.group(1)):
            raise Failure("bad_checkpoint", f"malformed signature line {line[:60]!r}")
        raw = b64decode_canonical(m.group(2))
        if raw is None or len(raw) < 5:
            raise Failure("bad_checkpoint", "signature line is not base64 of key ID and signature")
        sigs.append((m.group(1), raw))
    return text.encode("utf-8"), sigs


def verify_note(data, origin, log_keys):
    """Signed-note verification against the policy's log keys (all named `origin`).  Returns
    (text, set of public keys that signed)."""
    text, sigs = parse_note(data)
    trusted = {key_id(origin, 0x01, k): k for k in log_keys}
    signers = set()
    for name, raw in sigs:
        if name != origin or raw[:4] not in trusted:
            continue                        # a line matching no trusted key is ignored
        public = trusted[raw[:4]]
        if len(raw) != 68 or not verify_note_signature(public, raw[4:], text):
            raise Failure("bad_checkpoint",
                          "a signature by a log key of the policy does not verify")
        signers.add(public)
    if not signers:
        raise Failure("bad_checkpoint", "not signed by any log key of the policy")
    return text, signers


class Checkpoint:
    def __init__(self, size, root, signers):
        self.size, self.root, self.signers = size, root, signers


def parse_checkpoint(data, policy):
    """checkpoint.md §Checkpoints: exactly three lines, the policy's origin, decimal size,
    32-byte base64 root; signed by a log key of the policy."""
    text, signers = verify_note(data, policy.origin, policy.log_keys)
    lines = text.decode("utf-8").split("\n")
    if len(lines) != 4 or lines[3] != "":
        raise Failure("bad_checkpoint", "checkpoint text is not exactly three lines")
    if lines[0] != policy.origin:
        raise Failure("bad_checkpoint", f"origin {lines[0]!r} is not the policy's")
    size = parse_decimal(lines[1])
    if size is None:
        raise Failure("bad_checkpoint", "size is not decimal")
    root = b64decode_canonical(lines[2], 32)
    if root is None:
        raise Failure("bad_checkpoint", "root is not 32 bytes of base64")
    return Checkpoint(size, root, signers)


# --------------------------------------------------------------------------------------------
# Registry and lifecycle rules (lifecycle.md §State, §Rules; policy.md §Root key rotation)
# --------------------------------------------------------------------------------------------

class KeyRecord:
    def __init__(self, department, valid_from, valid_until, index):
        self.department = department
        self.valid_from = valid_from
        self.valid_until = valid_until
        self.index = index
        self.revoked_index = None
        self.revoked_time = None
        self.compromised_since = None


def refuse(code, message):
    raise Failure(code, message)


class Registry:
    """The registry of lifecycle.md §State, starting with only the policy's origin and roots."""

    def __init__(self, policy):
        self.policy = policy
        self.departments = {}   # id -> dict(name, roles, jurisdiction, index)
        self.keys = {}          # public -> KeyRecord
        self.log_keys = {}      # public -> index of its log_key entry
        self.items = {}         # item -> dict(provider, share_attribute, index)
        self.changes = {}       # change -> dict(provider, supervisor, index)
        self.disputes = {}      # dispute -> dict(filer, with, handlers, index, last_escalation)
        self.requests = {}      # request -> dict(requester, to, index)
        self.cases = {}         # case -> dict(requester, provider, item, index, decided, third)

    def has_role(self, dept, role):
        rec = self.departments.get(dept)
        return rec is not None and role in rec["roles"]

    # -- lifecycle.md §Rules ------------------------------------------------------------------

    def decide(self, st, t, i):
        """Raise Failure(code) for the first failing rule, in the order written."""
        # Every statement
        if st.log != self.policy.origin:
            refuse("wrong_log", f"statement is for log {st.log!r}")
        if not t - SIGNED_AT_BEFORE <= st.signed_at <= t + SIGNED_AT_AFTER:
            refuse("signed_at_out_of_range", f"signed_at {st.signed_at} vs notarised time {t}")
        if st.kind in REGISTRY_KINDS:
            self.decide_registry(st, t, i)
        else:
            self.decide_other(st, t, i)

    def decide_registry(self, st, t, i):
        if not any(r.name == st.department and r.key == st.key and r.in_force(i)
                   for r in self.policy.roots):
            refuse("not_root", f"{st.department!r} with this key is not a root in force at {i}")
        b = st.body
        if st.kind == "department":
            if b["id"] in self.policy.root_names:
                refuse("reserved_for_root", f"department id {b['id']!r} is a root's name")
        elif st.kind == "department_key":
            key = st.body_key("key")
            if b["department"] not in self.departments:
                refuse("unknown_department", f"department {b['department']!r} not registered")
            if not is_strong_key(key):
                refuse("weak_key", "key fails the weak-key check")
            if key in self.policy.root_keys:
                refuse("reserved_for_root", "key is a root key")
            if key in self.keys or key in self.log_keys:
                refuse("key_already_registered", "key is already registered")
            valid_from = b.get("valid_from", t)
            if "valid_until" in b and b["valid_until"] <= valid_from:
                refuse("empty_validity_window", f"[{valid_from}, {b['valid_until']}) is empty")
            if "replaces" in b:
                old = self.keys.get(st.body_key("replaces"))
                if old is None:
                    refuse("unknown_key", "replaced key is not registered")
                if old.department != b["department"]:
                    refuse("key_of_other_department", "replaced key is another department's")
                if old.revoked_index is not None:
                    refuse("key_already_revoked", "replaced key is revoked")
        elif st.kind == "key_revocation":
            rec = self.keys.get(st.body_key("key"))
            if rec is None:
                refuse("unknown_key", "revoked key is not registered")
            if rec.department != b["department"]:
                refuse("key_of_other_department", "revoked key is another department's")
            if rec.revoked_index is not None:
                refuse("key_already_revoked", "key is already revoked")
            if "compromised_since" in b and b["compromised_since"] > t:
                refuse("compromise_in_future", f"compromised_since {b['compromised_since']} > {t}")
        elif st.kind == "log_key":
            key = st.body_key("key")
            if not is_strong_key(key):
                refuse("weak_key", "log key fails the weak-key check")
            if key in self.policy.root_keys:
                refuse("reserved_for_root", "log key is a root key")
            if key in self.keys or key in self.log_keys:
                refuse("key_already_registered", "log key is already registered")

    def decide_other(self, st, t, i):
        kind, b, s = st.kind, st.body, st.department
        if st.key in self.policy.root_keys:
            refuse("root_signs_only_registry", "a root key signs registry entries only")
        # 1-3: the signer, its key, the key's validity at this point
        if s not in self.departments:
            refuse("unknown_department", f"signer department {s!r} not registered")
        rec = self.keys.get(st.key)
        if rec is None:
            refuse("unknown_key", "signer key not registered")
        if rec.department != s:
            refuse("key_of_other_department", f"signer key is registered to {rec.department!r}")
        if rec.revoked_index is not None:
            refuse("key_revoked", f"signer key revoked by entry {rec.revoked_index}")
        if rec.valid_from > t:
            refuse("key_not_yet_valid", f"key valid from {rec.valid_from}, entry time {t}")
        if rec.valid_until is not None and t >= rec.valid_until:
            refuse("key_expired", f"key valid until {rec.valid_until}, entry time {t}")
        if self.has_role(s, "auditor"):
            refuse("auditor_signs_nothing", f"{s!r} has role auditor")
        # 4: what the entry is about exists
        case = change = dispute = request = None
        if kind == "service_change_filing" and b["item"] not in self.items:
            refuse("unknown_catalog_item", f"item {b['item']!r} unknown")
        if kind in CASE_KINDS and kind != "application":
            case = self.cases.get(b["case"])
            if case is None:
                refuse("unknown_case", f"case {b['case']!r} unknown")
        if kind in ("catalog_update_extension", "catalog_publication"):
            change = self.changes.get(b["change"])
            if change is None:
                refuse("unknown_change", f"change {b['change']!r} unknown")
        if kind in ("dispute_escalation", "dispute_resolution"):
            dispute = self.disputes.get(b["dispute"])
            if dispute is None:
                refuse("unknown_dispute", f"dispute {b['dispute']!r} unknown")
        if kind == "return_flow":
            request = self.requests.get(b["request"])
            if request is None:
                refuse("unknown_request", f"request {b['request']!r} unknown")
        # 5: permitted signer, then the further conditions (lifecycle.md §Rules, table)
        self.decide_signer(st, case, change, dispute, request)

    def require_role(self, dept, role, code="missing_role"):
        if not self.has_role(dept, role):
            refuse(code, f"{dept!r} lacks role {role}")

    def require_registered(self, dept):
        if dept not in self.departments:
            refuse("unknown_department", f"department {dept!r} not registered")

    def decide_signer(self, st, case, change, dispute, request):
        kind, b, s = st.kind, st.body, st.department
        if kind == "catalog_entry":
            self.require_role(s, "provider")
            item = self.items.get(b["item"])
            if item is not None and item["provider"] != s:
                refuse("item_of_other_provider", f"item {b['item']!r} is {item['provider']!r}'s")
            if "change" in b:
                ch = self.changes.get(b["change"])
                if ch is None:
                    refuse("unknown_change", f"change {b['change']!r} unknown")
                if ch["provider"] != s:
                    refuse("not_change_provider", f"change {b['change']!r} names {ch['provider']!r}")
        elif kind == "service_change_filing":
            if self.items[b["item"]]["provider"] != s:
                refuse("item_of_other_provider", f"item {b['item']!r} is another's")
        elif kind == "application":
            self.require_role(s, "requester")
            if b["case"] in self.cases:
                refuse("case_exists", f"case {b['case']!r} exists")
            item = self.items.get(b["item"])
            if item is None:
                refuse("unknown_catalog_item", f"item {b['item']!r} unknown")
            if b["provider"] != item["provider"]:
                refuse("item_of_other_provider", f"item {b['item']!r} is {item['provider']!r}'s")
            if b["provider"] == s:
                refuse("self_application", "application to oneself")
        elif kind in ("materials_incomplete", "approval", "rejection", "delivery",
                      "correction_result", "consent"):
            if case["provider"] != s:
                refuse("not_case_party", f"{s!r} is not the case's provider")
        elif kind in ("materials_supplement", "delivery_receipt", "correction_request",
                      "usage_record", "disposal"):
            if case["requester"] != s:
                refuse("not_case_party", f"{s!r} is not the case's requester")
        elif kind == "reply_extension":
            self.require_role(s, "supervisor")
        elif kind in ("suspension", "termination"):
            if case["provider"] != s and not self.has_role(s, "supervisor"):
                refuse("not_case_party", f"{s!r} is neither the provider nor a supervisor")
        elif kind == "catalog_change_notice":
            self.require_role(s, "supervisor")
            if b["change"] in self.changes:
                refuse("change_exists", f"change {b['change']!r} exists")
            self.require_registered(b["provider"])
            self.require_role(b["provider"], "provider")
        elif kind in ("catalog_update_extension", "catalog_publication"):
            self.require_role(s, "supervisor")
        elif kind == "dispute":
            if b["dispute"] in self.disputes:
                refuse("dispute_exists", f"dispute {b['dispute']!r} exists")
            self.require_registered(b["with"])
            self.require_registered(b["supervisor"])
            self.require_role(b["supervisor"], "supervisor")
        elif kind == "dispute_escalation":
            if dispute["handlers"][-1] != s:
                refuse("not_dispute_handler", f"dispute is with {dispute['handlers'][-1]!r}")
            if b["to"] == s:
                refuse("escalation_to_self", "escalation to oneself")
            self.require_registered(b["to"])
            self.require_role(b["to"], "supervisor")
        elif kind == "dispute_resolution":
            if dispute["handlers"][-1] != s:
                refuse("not_dispute_handler", f"dispute is with {dispute['handlers'][-1]!r}")
        elif kind == "return_flow_request":
            if b["request"] in self.requests:
                refuse("request_exists", f"request {b['request']!r} exists")
            self.require_registered(b["to"])
        elif kind == "return_flow":
            if request["to"] != s:
                refuse("not_request_recipient", f"request was made to {request['to']!r}")

    # -- lifecycle.md §State ------------------------------------------------------------------

    def apply(self, st, t, i):
        kind, b, s = st.kind, st.body, st.department
        if kind == "department":
            self.departments[b["id"]] = {"name": b["name"], "roles": set(b["roles"]),
                                         "jurisdiction": b["jurisdiction"], "index": i}
        elif kind == "department_key":
            valid_from = b.get("valid_from", t)
            self.keys[st.body_key("key")] = KeyRecord(b["department"], valid_from,
                                                      b.get("valid_until"), i)
            if "replaces" in b:
                old = self.keys[st.body_key("replaces")]
                old.valid_until = (valid_from if old.valid_until is None
                                   else min(old.valid_until, valid_from))
        elif kind == "key_revocation":
            rec = self.keys[st.body_key("key")]
            rec.revoked_index, rec.revoked_time = i, t
            rec.compromised_since = b.get("compromised_since")
        elif kind == "log_key":
            self.log_keys[st.body_key("key")] = i
        elif kind == "catalog_entry":
            self.items[b["item"]] = {"provider": s, "share_attribute": b["share_attribute"],
                                     "index": i}
        elif kind == "application":
            self.cases[b["case"]] = {"requester": s, "provider": b["provider"],
                                     "item": b["item"], "index": i, "decided": None,
                                     "third": {}}
        elif kind in ("approval", "rejection"):
            case = self.cases[b["case"]]
            if case["decided"] is None:
                case["decided"] = i
        elif kind == "consent" and b["scope"] == "third_party":
            self.cases[b["case"]]["third"].setdefault(b["third_party"], i)
        elif kind == "catalog_change_notice":
            self.changes[b["change"]] = {"provider": b["provider"], "supervisor": s, "index": i}
        elif kind == "dispute":
            self.disputes[b["dispute"]] = {"filer": s, "with": b["with"],
                                           "handlers": [b["supervisor"]], "index": i,
                                           "last_escalation": None}
        elif kind == "dispute_escalation":
            d = self.disputes[b["dispute"]]
            d["handlers"].append(b["to"])
            d["last_escalation"] = i
        elif kind == "return_flow_request":
            self.requests[b["request"]] = {"requester": s, "to": b["to"], "index": i}


# --------------------------------------------------------------------------------------------
# Calendar files (calendar.md §Calendar files); only what package.md step 6 needs to check them
# --------------------------------------------------------------------------------------------

CALENDAR_HEADER = "share-audit/calendar/v1"
BUILT_IN_CALENDARS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                  os.pardir, os.pardir, "calendar")
NATIONAL_DEADLINES = {"reply_unconditional": 1, "reply_conditional": 10, "delivery": 20,
                      "correction_result": 10, "catalog_update": 10, "catalog_publication": 2,
                      "return_flow": 20, "dispute_handling": 20}
CALENDAR_YEAR_RE = re.compile(r"[0-9]{4}")


class Calendar:
    def __init__(self):
        self.year = None            # a national file's year
        self.jurisdiction = None    # a jurisdiction file's name
        self.days = {}              # "YYYY-MM-DD" -> "off" | "work"


def _weekday(date):
    """0 = Monday ... 6 = Sunday, for a date already checked by is_date."""
    return datetime.date(*(int(x) for x in date.split("-"))).weekday()


def parse_calendar(data):
    """calendar.md §Calendar files, the checks a single file allows.  Raises ValueError."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8")
    lines = text.split("\n")
    if lines[0] != CALENDAR_HEADER:
        raise ValueError(f"the first line is not exactly {CALENDAR_HEADER!r}")
    cal, sources, deadlines = Calendar(), 0, set()
    for lineno, line in enumerate(lines[1:], 2):
        if not line.strip() or line.startswith("#"):
            continue
        words = line.split(" ", 1)
        item, rest = words[0], (words[1] if len(words) > 1 else "")
        first = cal.year is None and cal.jurisdiction is None

        def bad(msg):
            raise ValueError(f"line {lineno}: {msg}")
        if item in ("year", "jurisdiction"):
            if not first:
                bad(f"`{item}` after the file's `year` or `jurisdiction` line")
            if item == "year":
                if not CALENDAR_YEAR_RE.fullmatch(rest):
                    bad("`year YYYY` needs a four-digit year")
                cal.year = int(rest)
            else:
                if not rest.strip():
                    bad("`jurisdiction NAME` needs a name")
                cal.jurisdiction = rest
            continue
        if first:
            bad("the file's first item is not `year YYYY` or `jurisdiction NAME`")
        if item == "source":
            parts = rest.split(" ", 2)
            if len(parts) != 3 or not parts[0] or not is_date(parts[1]) or not parts[2].strip():
                bad("`source ISSUER YYYY-MM-DD DOCUMENT` expected")
            sources += 1
        elif item in ("off", "work"):
            parts = rest.split(" ", 1)
            if len(parts) != 2 or not is_date(parts[0]) or not parts[1].strip():
                bad(f"`{item} YYYY-MM-DD LABEL` expected")
            day = parts[0]
            if cal.year is not None and int(day[:4]) != cal.year:
                bad(f"{day} is not of the national file's year {cal.year}")
            if day in cal.days:
                bad(f"{day} is listed twice")
            weekend = _weekday(day) >= 5
            if item == "off" and weekend:
                bad(f"`off` for {day}, a weekend day")
            if item == "work" and not weekend:
                bad(f"`work` for {day}, a weekday")
            cal.days[day] = item
        elif item == "deadline":
            parts = rest.split(" ")
            if cal.jurisdiction is None:
                bad("`deadline` in a national file")
            if len(parts) != 2 or parts[0] not in NATIONAL_DEADLINES:
                bad("`deadline NAME N` with a NAME of calendar.md's table expected")
            n = parse_decimal(parts[1])
            if n is None or not 1 <= n <= NATIONAL_DEADLINES[parts[0]]:
                bad(f"deadline {parts[0]} must be 1 .. {NATIONAL_DEADLINES[parts[0]]}")
            if parts[0] in deadlines:
                bad(f"deadline {parts[0]} given twice")
            deadlines.add(parts[0])
        else:
            bad(f"unknown item {item!r}")
    if cal.year is None and cal.jurisdiction is None:
        raise ValueError("no `year` or `jurisdiction` line")
    if sources == 0:
        raise ValueError("no `source` line")
    return cal


def built_in_calendars():
    """{file name: bytes} of the national files built into the ledger (calendar.md): the
    repository's calendar/*.txt, found relative to this file."""
    out = {}
    try:
        names = sorted(os.listdir(BUILT_IN_CALENDARS))
    except OSError:
        return out
    for name in names:
        if name.endswith(".txt") and not name.startswith("."):
            with open(os.path.join(BUILT_IN_CALENDARS, name), "rb") as f:
                out[name] = f.read()
    return out


# --------------------------------------------------------------------------------------------
# The audit (package.md §The audit)
# --------------------------------------------------------------------------------------------

# `witnessed` (package.md step 8) is allowed but not checked here: this
# verifier does not implement witness quorums (policy.md §Witnesses) yet.
TOP_LEVEL = ("manifest", "checkpoint", "policy.txt", "calendar", "tile", "checkpoints", "witnessed")


class Audit:
    """package.md §The audit.  Failures are (step, where, code, message); `where` is a package
    file path, `entry <i>`, `checkpoint <n>` (a checkpoint of the history by its number), or
    `<history bundle path>: checkpoint <n>` (a checkpoint that does not parse, in its file)."""

    def __init__(self, pkg, policy, policy_bytes):
        self.pkg = pkg
        self.policy = policy
        self.policy_bytes = policy_bytes
        self.failures = []      # (step, where, code, message)
        self.flags = []
        self.manifest_ok = False
        self.size = None        # N
        self.count = None       # C
        self.entries = []       # entry bytes or None, index order
        self.levels = None
        self.notes = []         # checkpoint notes of the history, or None
        self.registry = Registry(policy)

    def fail(self, step, where, code, message):
        self.failures.append((step, where, code, message))

    def kind(self, rel):
        """What `rel` is in the package, following no symbolic link (package.md §Report):
        'file' (a regular file), 'folder', 'other' (a symbolic link, FIFO, device, socket:
        unexpected_file, never followed) or None (not there, or below something that is not
        a folder of the package)."""
        parts = rel.split("/")
        path = self.pkg
        for k, part in enumerate(parts):
            path = os.path.join(path, part)
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                return None
            if k < len(parts) - 1 and not stat.S_ISDIR(mode):
                return None
        if stat.S_ISREG(mode):
            return "file"
        return "folder" if stat.S_ISDIR(mode) else "other"

    def read(self, rel):
        """Bytes of a package file; Failure missing_file, unexpected_file (not a regular file
        nor a folder: not followed) or unreadable_file (a folder, an error, or larger than any
        file of a package) if there are none."""
        kind = self.kind(rel)
        if kind is None:
            raise Failure("missing_file", "no such file")
        if kind == "other":
            raise Failure("unexpected_file", "not a regular file (a symbolic link, FIFO or "
                          "device); not followed")
        if kind == "folder":
            raise Failure("unreadable_file", "a folder, not a file")
        path = os.path.join(self.pkg, *rel.split("/"))
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
                         | getattr(os, "O_NONBLOCK", 0))
        except OSError as e:
            raise Failure("unreadable_file", e.strerror or str(e))
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):        # replaced since kind() looked
                raise Failure("unexpected_file", "not a regular file; not followed")
            if st.st_size > MAX_FILE:
                raise Failure("unreadable_file", f"{st.st_size} bytes, larger than any file "
                              f"of a package ({MAX_FILE})")
            with os.fdopen(fd, "rb") as f:
                fd = None
                data = f.read(MAX_FILE + 1)
            if len(data) > MAX_FILE:
                raise Failure("unreadable_file", f"larger than any file of a package "
                              f"({MAX_FILE})")
            return data
        except OSError as e:
            raise Failure("unreadable_file", e.strerror or str(e))
        finally:
            if fd is not None:
                os.close(fd)

    def load(self, step, rel, what):
        """read(), reporting a missing or unreadable file as a failure at its path."""
        try:
            return self.read(rel)
        except Failure as e:
            self.fail(step, rel, e.code, f"{what}: {e.message}")
            return None

    def exists(self, rel):
        return self.kind(rel) == "file"

    def list_files(self, top):
        """Everything but folders under the folder `top`, as sorted paths, without following
        a symbolic link (a symbolic link to a folder is listed, not entered); names starting
        with '.' (an export's temporary files, package.md §Exporting again) are not part of a
        package."""
        out = []
        if self.kind(top) != "folder":
            return out
        stack = [top]
        while stack:
            rel_dir = stack.pop()
            try:
                with os.scandir(os.path.join(self.pkg, *rel_dir.split("/"))) as it:
                    entries = list(it)
            except OSError as e:
                self.fail(3, rel_dir, "unreadable_file", f"folder: {e.strerror or e}")
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                rel = f"{rel_dir}/{entry.name}"
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    is_dir = False
                if is_dir:
                    stack.append(rel)
                else:
                    out.append(rel)
        return sorted(out)

    # -- step 1 and the policy copy -----------------------------------------------------------

    def check_manifest(self):
        """package.md §Layout (manifest) and §The audit step 1."""
        data = self.load(1, "manifest", "the manifest")
        if data is None:
            return
        m = re.fullmatch(rb"share-audit/package/v1\norigin ([^\n]*)\nsize ([0-9]+)\n"
                         rb"checkpoints ([0-9]+)\n", data)
        if not m or parse_decimal(m.group(2)) is None or parse_decimal(m.group(3)) is None:
            self.fail(1, "manifest", "bad_manifest", "does not parse as the four lines of "
                      "package.md §Layout")
            return
        if m.group(1) != self.policy.origin.encode("utf-8"):
            self.fail(1, "manifest", "wrong_log", "its origin is not the policy's")
        size, count = parse_decimal(m.group(2)), parse_decimal(m.group(3))
        if size > MAX_SIZE:
            self.fail(1, "manifest", "bad_manifest", f"size above {MAX_SIZE}, beyond what "
                      "this reference verifier reads")
            return
        # any count is read: the history ends at its first missing or broken bundle (step 2)
        if count == 0:
            self.fail(1, "manifest", "bad_manifest", "checkpoints 0: a history holds at least "
                      "the checkpoint of size 0")
            return
        self.size, self.count, self.manifest_ok = size, count, True

    def fallback_sizes(self):
        """Without a usable manifest, take N from `checkpoint` and C from the bundles found
        (our choice, so that the rest of the audit can still run)."""
        if self.size is None:
            try:
                self.size = parse_checkpoint(self.read("checkpoint"), self.policy).size
            except Failure:
                self.size = 0
            if self.size > MAX_SIZE:
                self.size = 0
        if self.count is None:
            n = 0
            while self.exists(tile_path("checkpoints", n, TILE_WIDTH)):
                n += 1
            width = max((w for w in range(1, 256)
                         if self.exists(tile_path("checkpoints", n, w))), default=0)
            self.count = n * TILE_WIDTH + width

    def check_policy_copy(self):
        """package.md §The audit: policy.txt MUST be the given policy file byte for byte (a
        UTF-8 byte order mark aside)."""
        data = self.load(1, "policy.txt", "the policy copy")
        if data is not None and strip_bom(data) != strip_bom(self.policy_bytes):
            self.fail(1, "policy.txt", "policy_differs",
                      "is not the given policy file byte for byte")

    def check_top_level(self):
        """package.md §The audit step 3: names at the top of the package beside the six; and
        §Report: the folders not followed if they are not folders (the three files are
        reported where they are read)."""
        for name in sorted(os.listdir(self.pkg)):
            if name.startswith("."):
                continue
            if name not in TOP_LEVEL:
                self.fail(3, name, "unexpected_file", "not a name of package.md §Layout")
            elif name in ("calendar", "tile", "checkpoints") and self.kind(name) == "other":
                self.fail(3, name, "unexpected_file", "not a folder (a symbolic link, FIFO or "
                          "device); not followed")

    # -- bundles ------------------------------------------------------------------------------

    def read_bundles(self, prefix, count, step, what):
        """Items of every required bundle (None where a bundle is missing or malformed)."""
        items = []
        for n, width in required_tiles(count):
            rel = tile_path(prefix, n, width)
            data = self.load(step, rel, what)
            if data is not None:
                try:
                    items.extend(split_bundle(data, width))
                    continue
                except Failure as e:
                    self.fail(step, rel, e.code, f"{what}: {e.message}")
            items.extend([None] * width)
        return items

    # -- step 3: tree, tiles ------------------------------------------------------------------

    def build_tree(self):
        self.entries = self.read_bundles("tile/entries", self.size, 3,
                                         "required entry bundle (the replay stops at it)")
        self.levels = build_levels([None if e is None else leaf_hash(e) for e in self.entries])

    def expected_tile(self, prefix, n, width):
        """Bytes a tile/bundle of this name must hold, or None if unknown (missing data)."""
        start = n * TILE_WIDTH
        if prefix == "tile/entries":
            items = self.entries[start:start + width]
        elif prefix == "checkpoints":
            items = self.notes[start:start + width]
        else:
            level = 8 * int(prefix[5:])
            hashes = self.levels[level][start:start + width] if level < len(self.levels) else []
            if len(hashes) != width or any(h is None for h in hashes):
                return None
            return b"".join(hashes)
        if len(items) != width or any(x is None for x in items):
            return None
        return join_bundle(items)

    def count_at(self, prefix):
        if prefix == "checkpoints":
            return self.count
        if prefix == "tile/entries":
            return self.size
        return self.size >> (8 * int(prefix[5:]))

    def check_tile_files(self):
        """package.md §The audit step 3: every required hash tile exists and equals what the
        entries give; every other file under tile/ or checkpoints/ is a well-named partial
        tile (bundle) no wider than the same tile at N (bundle at C) and equals that prefix."""
        required = []
        level = 0
        while level <= 63 and (self.size >> (8 * level)) > 0:
            for n, width in required_tiles(self.size >> (8 * level)):
                required.append((f"tile/{level}", n, width))
            level += 1
        for prefix, n, width in required:
            rel = tile_path(prefix, n, width)
            data = self.load(3, rel, "required hash tile")
            expected = self.expected_tile(prefix, n, width)
            if data is not None and expected is not None and data != expected:
                self.fail(3, rel, "tile_mismatch", "differs from the hashes the entries give")
        for rel in self.list_files("tile") + self.list_files("checkpoints"):
            step = 2 if rel.startswith("checkpoints/") else 3
            parsed = parse_tile_name(rel)
            if parsed is not None and width_in(self.count_at(parsed[0]), parsed[1]) == parsed[2]:
                continue            # required: checked above, or where the bundles were read
            if self.kind(rel) != "file":
                self.fail(step, rel, "unexpected_file", "not a regular file (a symbolic link, "
                          "FIFO or device); not followed")
                continue
            if parsed is None:
                self.fail(step, rel, "unexpected_file", "not a well-named tile or bundle")
                continue
            prefix, n, width = parsed
            in_tree = width_in(self.count_at(prefix), n)
            if width == TILE_WIDTH or width > in_tree:
                self.fail(step, rel, "unexpected_file",
                          "no tile of this width exists in the tree (or history)")
                continue
            data = self.load(step, rel, "partial left by an earlier export")
            expected = self.expected_tile(prefix, n, width)
            if data is not None and expected is not None and data != expected:
                self.fail(step, rel, "file_mismatch", "partial left by an earlier export "
                          "differs from what the entries (or the history) give")

    # -- step 2: checkpoint history -----------------------------------------------------------

    def read_history(self):
        """package.md §The audit step 2: the history bundles required for C, in order; the
        first missing or broken one ends the history there (so any C is read in the time the
        bundles present take)."""
        notes, n = [], 0
        while n * TILE_WIDTH < self.count:
            width = width_in(self.count, n)
            rel = tile_path("checkpoints", n, width)
            data = self.load(2, rel, "required history bundle (the history ends there)")
            if data is None:
                break
            try:
                notes.extend(split_bundle(data, width))
            except Failure as e:
                self.fail(2, rel, e.code, f"required history bundle (the history ends there): "
                          f"{e.message}")
                break
            n += 1
        return notes

    def check_log_key_range(self, where, cp):
        """checkpoint.md §Key rotation: exactly one log key of the policy signs a checkpoint;
        policy.md §Log key rotation: within its range."""
        if len(cp.signers) > 1:
            self.fail(2, where, "checkpoint_key_not_in_force", f"signed by {len(cp.signers)} "
                      "log keys of the policy, not exactly one (checkpoint.md §Key rotation)")
        for key in sorted(cp.signers):
            line = self.policy.log_lines[key]
            if not line.signs_size(cp.size):
                self.fail(2, where, "checkpoint_key_not_in_force",
                          f"signed by log key {b64(key)} ({line.range_text()}), outside its "
                          f"range at size {cp.size} (policy.md §Log key rotation)")

    def check_history(self):
        """package.md §The audit step 2 and the roots of step 3; checkpoint.md §Key rotation;
        policy.md §Log key rotation."""
        self.notes = self.read_history()
        complete = len(self.notes) == self.count
        last_file = self.load(2, "checkpoint", "the newest checkpoint")
        last_cp = None
        if last_file is not None:
            try:
                last_cp = parse_checkpoint(last_file, self.policy)
            except Failure as e:
                self.fail(2, "checkpoint", e.code, e.message)
        # the `checkpoint` file's keys: where the history holds the same bytes they are
        # checked (and reported) there, at `checkpoint <n>`; otherwise here, at `checkpoint`
        if last_cp is not None and not (complete and self.notes and
                                        self.notes[-1] == last_file):
            self.check_log_key_range("checkpoint", last_cp)
        previous = None
        current, retired = None, set()
        parsed = {}             # number -> Checkpoint
        for number, note in enumerate(self.notes):
            try:
                cp = parse_checkpoint(note, self.policy)
            except Failure as e:
                bundle = tile_path("checkpoints", number // TILE_WIDTH,
                                   width_in(self.count, number // TILE_WIDTH))
                self.fail(2, f"{bundle}: checkpoint {number}", e.code, e.message)
                continue
            parsed[number] = cp
            where = f"checkpoint {number}"
            if number == 0 and cp.size != 0:
                self.fail(2, where, "checkpoint_order",
                          f"the history starts at size {cp.size}, not 0")
            if previous is not None and cp.size <= previous:
                self.fail(2, where, "checkpoint_order",
                          f"size {cp.size} does not increase from {previous}")
            previous = cp.size
            self.check_log_key_range(where, cp)
            current = self.check_key_in_force(where, cp, current, retired)
            if cp.size <= self.size:
                root = tree_root(self.levels, cp.size)
                if root is not None and root != cp.root:
                    self.fail(3, where, "root_mismatch",
                              f"root at size {cp.size} differs from the tree the entries give")
        last = len(self.notes) - 1
        if not complete:
            last = None         # the history ended early: its missing_file or bad_bundle says so
        if last is not None and last_file is not None and self.notes[last] != last_file:
            self.fail(2, "checkpoint", "checkpoint_mismatch",
                      f"is not the last checkpoint of the history ({last}) byte for byte")
        if last in parsed:
            if self.manifest_ok and parsed[last].size != self.size:
                self.fail(2, "manifest", "checkpoint_mismatch", f"size {self.size}, but the "
                          f"history ends at size {parsed[last].size}")
        elif last_cp is not None and self.manifest_ok and last_cp.size != self.size:
            self.fail(2, "checkpoint", "checkpoint_mismatch",
                      f"size {last_cp.size}, the manifest's is {self.size}")

    def check_key_in_force(self, where, cp, current, retired):
        """checkpoint.md §Key rotation.  The initial key signed size 0; a key announced by a
        log_key entry the rules accepted, at index r, may sign sizes s > r and takes over when
        it signs; keys current before a takeover are retired and sign nothing later.  Every
        policy log key that signed must be in force.  Returns the new current key."""
        if current is None:                     # the checkpoint of size 0 (or first readable)
            return min(cp.signers)
        announced = {k for k, r in self.registry.log_keys.items()
                     if cp.size > r and k not in retired}
        in_force = announced | {current}
        for key in sorted(cp.signers - in_force):
            state = "retired" if key in retired else "not announced"
            self.fail(2, where, "checkpoint_key_not_in_force",
                      f"signed by log key {b64(key)}, {state} at size {cp.size} "
                      "(checkpoint.md §Key rotation)")
        newcomers = (cp.signers & in_force) - {current}
        if newcomers:
            retired.add(current)
            return min(newcomers, key=lambda k: self.registry.log_keys[k])
        return current

    # -- step 4: replay; step 5: flags --------------------------------------------------------

    def replay(self):
        """package.md §The audit step 4.  An entry that fails changes nothing; the replay goes
        on (a later failure may follow from an earlier one) up to an entry it does not have."""
        previous_time = None
        window = collections.deque()        # (time, SHA-256(statement)), oldest first
        in_window = collections.Counter()   # SHA-256(statement) -> entries in the window
        parsed = []                         # (index, time, statement) of parsed statements
        for i, entry in enumerate(self.entries):
            if entry is None:
                break           # its bundle's failure says the replay stops there
            try:
                t, sig, raw = parse_entry(entry)
                if previous_time is not None and t < previous_time:
                    try:            # step 5 still looks at it if its statement parses
                        parsed.append((i, t, parse_statement(raw)))
                    except Failure:
                        pass
                    raise Failure("time_decreases", f"time {t} < previous {previous_time}")
                previous_time = t
                st = parse_statement(raw)
                parsed.append((i, t, st))
                if not verify_attestation_signature(st.key, sig, ATTESTATION_PREFIX + raw):
                    raise Failure("bad_signature", "attestation signature is not valid "
                                  "(attestation.md §Signature rule)")
                # dedup: earlier entries whose statement parsed and whose signature verified,
                # notarised at most 24 h 5 min before this one (times never decrease here)
                while window and t - window[0][0] > DEDUP_WINDOW:
                    in_window[window.popleft()[1]] -= 1
                digest = hashlib.sha256(raw).digest()
                duplicate = in_window[digest] > 0
                window.append((t, digest))
                in_window[digest] += 1
                if duplicate:
                    raise Failure("duplicate_statement",
                                  "statement already in the log within 24 h 5 min")
                try:
                    self.registry.decide(st, t, i)
                except Failure as e:
                    raise Failure("refused", f"{e.code}: {e.message}")
            except Failure as e:
                self.fail(4, f"entry {i}", e.code, e.message)
                continue            # an entry that fails changes nothing in the registry
            self.registry.apply(st, t, i)
        self.flag_compromised(parsed)

    def flag_compromised(self, parsed):
        """package.md §The audit step 5 (lifecycle.md key_revocation)."""
        for i, t, st in parsed:
            rec = self.registry.keys.get(st.key)
            if rec is None or rec.compromised_since is None or rec.revoked_index <= i:
                continue
            c = rec.compromised_since
            if t >= c or st.signed_at >= c:
                self.flags.append(f"FLAG signed_after_compromise entry {i} department "
                                  f"{st.department} key {b64(st.key)} compromised_since {c}")

    # -- step 6: the calendar files -----------------------------------------------------------

    def check_calendars(self):
        """package.md §The audit step 6 and calendar.md §Calendar files: a file named as a
        built-in one equals it; each built-in year is there (its file, missing_file if not);
        no other file gives a built-in year (calendar_differs); every other file parses, and
        the files together obey calendar.md's rules for a folder."""
        built_in = built_in_calendars()
        built_in_years = {}                 # year -> name of the built-in file giving it
        for name, data in built_in.items():
            year = parse_calendar(data).year
            if year is not None:
                built_in_years[year] = name
        present, good = set(), []           # names; (name, Calendar) of files that parsed
        for rel in self.list_files("calendar"):
            name = rel[len("calendar/"):]
            if "/" in name or not name.endswith(".txt"):
                self.fail(6, rel, "unexpected_file", "not a calendar file (calendar/<name>.txt)")
                continue
            present.add(name)
            data = self.load(6, rel, "calendar file")
            if data is None:
                continue
            if name in built_in and data != built_in[name]:
                self.fail(6, rel, "calendar_differs", "differs from the built-in file of "
                          "that name")
                continue
            try:
                cal = parse_calendar(data)
            except ValueError as e:
                self.fail(6, rel, "bad_calendar", str(e))
                continue
            if name not in built_in and cal.year in built_in_years:
                self.fail(6, rel, "calendar_differs", f"gives the built-in year {cal.year} "
                          f"(only the built-in calendar/{built_in_years[cal.year]} may)")
                continue
            good.append((name, cal))
        years, jurisdiction, days = {}, None, {}
        # files named as built-in ones first, so that a second file of their year is blamed
        for name, cal in sorted(good, key=lambda nc: (nc[0] not in built_in, nc[0])):
            rel = f"calendar/{name}"
            if cal.year is not None:
                if cal.year in years:
                    self.fail(6, rel, "bad_calendar", f"a second national file of {cal.year} "
                              f"(calendar/{years[cal.year]})")
                    continue
                years[cal.year] = name
            elif jurisdiction is None:
                jurisdiction = (cal.jurisdiction, name)
            elif cal.jurisdiction != jurisdiction[0]:
                self.fail(6, rel, "bad_calendar", f"a second jurisdiction (calendar/"
                          f"{jurisdiction[1]} is {jurisdiction[0]!r})")
                continue
            for day, kind in sorted(cal.days.items()):
                if day in days and days[day][0] != kind:
                    self.fail(6, rel, "bad_calendar", f"{day} is {kind}, but {days[day][0]} "
                              f"in calendar/{days[day][1]}")
                days.setdefault(day, (kind, name))
        for name in sorted(built_in):
            if name not in present:
                self.fail(6, f"calendar/{name}", "missing_file", "a built-in national year")

    # -- driver -------------------------------------------------------------------------------

    def run(self):
        steps = [(1, self.check_manifest), (1, self.check_policy_copy),
                 (1, self.fallback_sizes),
                 (3, self.check_top_level),
                 (3, self.build_tree),          # step 3: entries and leaves
                 (4, self.replay),              # step 4 first: checkpoint keys need log_key entries
                 (2, self.check_history),       # step 2, and step 3's roots
                 (3, self.check_tile_files),    # step 3: tiles, stale partials, unexpected files
                 (6, self.check_calendars)]     # step 6: the calendar files (not the findings)
        for step, run_step in steps:
            try:
                run_step()
            except Exception as e:      # a bug of ours must not pass for a verdict
                self.fail(step, f"step {step}", "internal", f"{type(e).__name__}: {e}")
                break
        self.failures.sort(key=lambda f: f[0])
        return not self.failures


def escape_controls(s):
    """package.md §Report: file names are shown with control characters escaped.  Here every
    C0 character and DEL (and every byte of a name that is not UTF-8) is written \\xNN,
    and a C1 control \\u00NN."""
    out = []
    for c in s:
        o = ord(c)
        if 0xDC80 <= o <= 0xDCFF:           # a byte os.fsdecode could not decode
            out.append(f"\\x{o - 0xDC00:02x}")
        elif unicodedata.category(c) == "Cc":
            out.append(f"\\x{o:02x}" if o < 0x80 else f"\\u{o:04x}")
        else:
            out.append(c)
    return "".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Audit a share-audit package (steps 1-5, and "
                                     "step 6's calendar files).")
    parser.add_argument("package")
    parser.add_argument("--policy", required=True)
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(errors="backslashreplace")   # odd file names must not crash output
    try:
        with open(args.policy, "rb") as f:
            policy_bytes = f.read()
    except OSError as e:
        print(f"error: cannot read policy: {e}", file=sys.stderr)
        return 2
    try:
        policy = parse_policy(policy_bytes)
    except ValueError as e:
        print(f"error: unusable policy {args.policy}: {e}", file=sys.stderr)
        return 2
    try:
        os.listdir(args.package)
    except OSError as e:
        print(f"error: cannot read package folder {args.package}: {e}", file=sys.stderr)
        return 2
    audit = Audit(args.package, policy, policy_bytes)
    valid = audit.run()
    for _, where, code, message in audit.failures[:MAX_LISTED]:
        print(f"FAIL {escape_controls(where)}: {code}: {escape_controls(message)}")
    if len(audit.failures) > MAX_LISTED:
        print(f"... {len(audit.failures) - MAX_LISTED} more failures not listed")
    for flag in audit.flags:
        print(flag)
    print(f"entries {audit.size} checkpoints {audit.count} failures {len(audit.failures)} "
          f"flags {len(audit.flags)}")
    print("VALID" if valid else "INVALID")
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
