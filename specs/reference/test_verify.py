#!/usr/bin/env python3
"""Tests for verify.py: synthetic packages built from the spec, valid and tampered.

    python3 specs/reference/test_verify.py [-v]

The package writer below is deliberately written on its own (Merkle tree, tile paths,
bundles, notes), from package.md / merkle.md / checkpoint.md, so that it cross-checks
verify.py rather than reusing it.  Only the mixed-order-R signature test borrows verify.py's
curve arithmetic to build its point.
"""

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

HERE = os.path.dirname(os.path.abspath(__file__))
VERIFY = os.path.join(HERE, "verify.py")
CALENDARS = os.path.join(HERE, "..", "..", "calendar")     # the built-in calendar files
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True     # no __pycache__ beside the specs
import verify  # noqa: E402  (only for curve arithmetic in one test)

ORIGIN = "test.example.gov.cn/share-audit/t1"
T0 = 1_764_201_600_000
ORDER_8_POINT = "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_bytes(path, data):
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)


def b64(b):
    return base64.b64encode(b).decode()


class Key:
    def __init__(self, name):
        self.name = name
        self.seed = os.urandom(32)
        self.priv = Ed25519PrivateKey.from_private_bytes(self.seed)
        self.pub = self.priv.public_key().public_bytes(serialization.Encoding.Raw,
                                                       serialization.PublicFormat.Raw)

    def sign(self, msg):
        return self.priv.sign(msg)

    def key_id(self):
        return hashlib.sha256(self.name.encode() + b"\n\x01" + self.pub).digest()[:4]

    def vkey(self):
        typed = b64(bytes([1]) + self.pub)
        return f"{self.name}+{self.key_id().hex()}+{typed}"


# ---- package writer (independent of verify.py) -------------------------------------------

def mth(leaves):
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def idx_path(n):
    s = "%03d" % (n % 1000)
    n //= 1000
    while n:
        s = "x%03d/" % (n % 1000) + s
        n //= 1000
    return s


def tpath(prefix, n, w):
    return f"{prefix}/{idx_path(n)}" + ("" if w == 256 else f".p/{w}")


def bundle(items):
    return b"".join(len(x).to_bytes(2, "big") + x for x in items)


class Builder:
    """A notary in miniature: it does not check rules, so tests can make it misbehave."""

    def __init__(self):
        self.log_key = Key(ORIGIN)
        self.root = Key("gd.zsj.root")
        self.extra_log_keys = []
        self.log_ranges = {}            # Key -> " from <n> until <m>" of its `log` line
        self.entries = []
        self.checkpoints = []           # note bytes
        self.signing_log_key = self.log_key
        self.policy_text = None
        self.time = T0
        self.checkpoint()               # size 0

    def policy(self):
        if self.policy_text is not None:
            return self.policy_text
        lines = [f"log {k.vkey()}{self.log_ranges.get(k, '')}"
                 for k in [self.log_key] + self.extra_log_keys]
        lines.append(f"root {self.root.vkey()}  # 主管部门")
        return "\n".join(lines) + "\n"

    def statement(self, kind, body, signer, dept, signed_at=None, log=ORIGIN):
        st = {"version": 1, "kind": kind, "log": log,
              "signer": {"department": dept, "key": b64(signer.pub)},
              "signed_at": self.time - 1000 if signed_at is None else signed_at, "body": body}
        return json.dumps(st, ensure_ascii=False, separators=(",", ":")).encode()

    def add_raw(self, stmt, sig, time=None):
        t = self.time if time is None else time
        e = (b"share-audit/entry/v1\ntime %d\nsignature " % t) + b64(sig).encode() + b"\n\n" + stmt
        self.entries.append(e)
        return len(self.entries) - 1

    def add(self, kind, body, signer, dept=None, **kw):
        dept = dept or signer.name
        stmt = self.statement(kind, body, signer, dept, **kw)
        return self.add_raw(stmt, signer.sign(b"share-audit/attestation/v1\n" + stmt))

    def checkpoint(self, key=None, also=()):
        """Signs the checkpoint of the current tree with `key` (and the keys `also`)."""
        key = key or self.signing_log_key
        leaves = [hashlib.sha256(b"\x00" + e).digest() for e in self.entries]
        text = f"{ORIGIN}\n{len(self.entries)}\n{b64(mth(leaves))}\n".encode()
        note = text + b"\n"
        for k in (key,) + tuple(also):
            note += ("\u2014 " + ORIGIN + " " + b64(k.key_id() + k.sign(text)) + "\n").encode()
        self.checkpoints.append(note)
        self.time += 1000

    def write(self, out):
        n = len(self.entries)
        leaves = [hashlib.sha256(b"\x00" + e).digest() for e in self.entries]

        def put(rel, data):
            path = os.path.join(out, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)

        for start in range(0, n, 256):
            w = min(256, n - start)
            put(tpath("tile/entries", start // 256, w), bundle(self.entries[start:start + w]))
        level, hashes = 0, leaves
        while hashes:
            for start in range(0, len(hashes), 256):
                w = min(256, len(hashes) - start)
                put(tpath(f"tile/{level}", start // 256, w), b"".join(hashes[start:start + w]))
            # next tile level: hashes of complete 256-leaf subtrees
            hashes = [mth(hashes[i:i + 256]) for i in range(0, len(hashes) - 255, 256)]
            level += 1
        c = len(self.checkpoints)
        for start in range(0, c, 256):
            w = min(256, c - start)
            put(tpath("checkpoints", start // 256, w), bundle(self.checkpoints[start:start + w]))
        put("checkpoint", self.checkpoints[-1])
        put("policy.txt", self.policy().encode())
        for name in os.listdir(CALENDARS):         # the built-in national years (package.md)
            if name.endswith(".txt"):
                put(f"calendar/{name}", read_bytes(os.path.join(CALENDARS, name)))
        put("manifest", f"share-audit/package/v1\norigin {ORIGIN}\nsize {n}\ncheckpoints {c}\n"
            .encode())


def standard_log(b, usage_records=0):
    """A log using every kind; returns the keys by name."""
    R = b.root
    keys = {d: Key(d) for d in ("gd.rst", "gd.fgw", "gd.sup", "gd.sup2", "gd.aud")}
    for d, roles in (("gd.rst", ["provider", "source"]), ("gd.fgw", ["requester"]),
                     ("gd.sup", ["supervisor"]), ("gd.sup2", ["supervisor"]),
                     ("gd.aud", ["auditor"])):
        b.add("department", {"id": d, "name": "部门 " + d, "roles": roles,
                             "jurisdiction": "广东省"}, R)
    for d, k in keys.items():
        b.add("department_key", {"department": d, "key": b64(k.pub)}, R)
    b.checkpoint()
    rst, fgw, sup, sup2 = keys["gd.rst"], keys["gd.fgw"], keys["gd.sup"], keys["gd.sup2"]
    b.add("catalog_entry", {"item": "rst/item-1", "name": "缴费记录", "data_items": ["a", "b"],
                            "format": "JSON", "update_frequency": "每日",
                            "share_attribute": "conditional", "sharing_method": "service_interface",
                            "conditions": ["仅用于评价"], "classification": "二级"}, rst)
    b.add("application", {"case": "case-1", "item": "rst/item-1", "provider": "gd.rst",
                          "data_items": ["a"], "legal_basis": "条例", "use_scenario": "评价",
                          "scope_of_use": "内部", "sharing_method": "service_interface",
                          "use_until": "2028-02-29", "approved_by": "某处长", "declaration": True,
                          "other": {"备注": "无"}}, fgw)
    b.add("reply_extension", {"case": "case-1", "working_days": 3, "reason": "复杂"}, sup)
    b.add("approval", {"case": "case-1", "conditions": ["限内部"]}, rst)
    b.add("delivery", {"case": "case-1", "method": "service_interface",
                       "data_digest": "sha256:" + "ab" * 32}, rst)
    b.add("delivery_receipt", {"case": "case-1", "data_digest": "sha256:" + "ab" * 32}, fgw)
    b.add("consent", {"case": "case-1", "scope": "third_party", "third_party": "gd.sup2",
                      "description": "同意"}, rst)
    b.add("correction_request", {"case": "case-1", "request": "cr-1", "problems": ["错"]}, fgw)
    b.add("correction_result", {"case": "case-1", "request": "cr-1", "outcome": "corrected",
                                "description": "已改"}, rst)
    b.checkpoint()
    b.add("catalog_change_notice", {"change": "ch-1", "provider": "gd.rst", "items": [],
                                    "basis": "新规"}, sup)
    b.add("catalog_update_extension", {"change": "ch-1", "working_days": 5, "reason": "多"}, sup)
    b.add("catalog_entry", {"item": "rst/item-2", "name": "x", "data_items": ["c"],
                            "format": "CSV", "update_frequency": "每月",
                            "share_attribute": "not_shareable", "sharing_method": "file_download",
                            "reason": "涉密", "legal_basis": "保密法", "classification": "三级",
                            "change": "ch-1"}, rst)
    b.add("catalog_publication", {"change": "ch-1", "items": ["rst/item-2"]}, sup)
    b.add("service_change_filing", {"item": "rst/item-1", "change": "stop", "reason": "停",
                                    "consulted": ["gd.fgw"]}, rst)
    b.add("dispute", {"dispute": "d-1", "with": "gd.rst", "supervisor": "gd.sup",
                      "subject": "拒绝"}, fgw)
    b.add("dispute_escalation", {"dispute": "d-1", "to": "gd.sup2", "reason": "上级"}, sup)
    b.add("dispute_resolution", {"dispute": "d-1", "outcome": "解决"}, sup2)
    b.add("return_flow_request", {"request": "rf-1", "to": "gd.rst", "data_items": ["d"],
                                  "region": "广州"}, fgw)
    b.add("return_flow", {"request": "rf-1", "data_digest": "sha256:" + "cd" * 32}, rst)
    b.add("suspension", {"case": "case-1", "reason": "违规", "rectify_by": "2026-12-31"}, sup)
    b.checkpoint()
    for j in range(usage_records):
        b.add("usage_record", {"case": "case-1", "use_scenario": "s", "use_process": "p",
                               "outcome": f"o{j}", "storage_status": "st",
                               "destruction_status": "未销毁"}, fgw)
        if j % 97 == 96:
            b.checkpoint()
    # key rotation: rst gets a new key replacing the old one
    rst2 = Key("gd.rst")
    b.add("department_key", {"department": "gd.rst", "key": b64(rst2.pub),
                             "replaces": b64(rst.pub)}, R)
    b.checkpoint()
    b.add("materials_incomplete", {"case": "case-1", "missing": ["x"]}, rst2)
    b.add("rejection", {"case": "case-1", "reasons": ["r"], "legal_basis": "l"}, rst2)
    b.add("materials_supplement", {"case": "case-1", "supplied": ["x"]}, fgw)
    b.add("disposal", {"case": "case-1", "method": "deleted", "description": "删"}, fgw)
    b.add("termination", {"case": "case-1", "reason": "终"}, rst2)
    b.checkpoint()
    keys["gd.rst.new"] = rst2
    return keys


def future_key(b):
    """Registers a second gd.sup key valid only from tomorrow, then signs with it today."""
    k = Key("gd.sup")
    b.add("department_key", {"department": "gd.sup", "key": b64(k.pub),
                             "valid_from": b.time + 86_400_000}, b.root)
    return b.add("return_flow_request", {"request": "rf-7", "to": "gd.rst",
                                         "data_items": ["d"], "region": "x"}, k)


def run_verify(pkg, policy=None):
    policy = policy or os.path.join(pkg, "policy.txt")
    p = subprocess.run([sys.executable, VERIFY, pkg, "--policy", policy],
                       capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


class VerifyTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.dir)

    def build(self, builder, name="pkg"):
        out = os.path.join(self.dir, name)
        builder.write(out)
        return out

    def assertValid(self, pkg, policy=None):
        rc, out, err = run_verify(pkg, policy)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(out.strip().splitlines()[-1], "VALID")
        return out

    def assertInvalid(self, pkg, *needles, policy=None):
        rc, out, err = run_verify(pkg, policy)
        self.assertEqual(rc, 1, out + err)
        self.assertNotIn("Traceback", err)
        self.assertEqual(out.strip().splitlines()[-1], "INVALID")
        for n in needles:
            self.assertIn(n, out)
        return out

    # ---- valid packages --------------------------------------------------------------------

    def test_empty_log(self):
        self.assertValid(self.build(Builder()))

    def test_full_log_over_256_entries(self):
        b = Builder()
        standard_log(b, usage_records=260)
        out = self.assertValid(self.build(b))
        self.assertIn(f"entries {len(b.entries)} ", out)
        self.assertGreater(len(b.entries), 256)

    def test_stale_partials_are_accepted(self):
        b = Builder()
        standard_log(b)
        old = self.build(b, "old")
        b.add("department", {"id": "gd.new", "name": "新", "roles": ["source"],
                             "jurisdiction": "广东"}, b.root)
        b.checkpoint()
        new = self.build(b, "new")
        for top in ("tile", "checkpoints"):
            for dp, _, files in os.walk(os.path.join(old, top)):
                for f in files:
                    rel = os.path.relpath(os.path.join(dp, f), old)
                    dst = os.path.join(new, rel)
                    if not os.path.exists(dst):
                        os.makedirs(os.path.dirname(dst), exist_ok=True)
                        shutil.copy(os.path.join(old, rel), dst)
        self.assertValid(new)

    def test_compromise_flag(self):
        b = Builder()
        keys = standard_log(b)
        b.add("key_revocation", {"department": "gd.fgw", "key": b64(keys["gd.fgw"].pub),
                                 "reason": "泄露", "compromised_since": T0 + 3000}, b.root)
        b.checkpoint()
        out = self.assertValid(self.build(b))
        self.assertIn("FLAG signed_after_compromise entry", out)
        # entries of gd.fgw notarised before T0+3000 are not flagged (entry 11: the application)
        self.assertNotIn("FLAG signed_after_compromise entry 11 ", out)

    def test_log_key_rotation(self):
        b = Builder()
        standard_log(b)
        k2 = Key(ORIGIN)
        b.extra_log_keys.append(k2)
        b.add("log_key", {"key": b64(k2.pub)}, b.root)
        b.checkpoint()                      # still the old key: fine
        b.signing_log_key = k2
        b.add("department", {"id": "gd.x", "name": "x", "roles": ["source"],
                             "jurisdiction": "y"}, b.root)
        b.checkpoint()                      # k2 takes over
        self.assertValid(self.build(b))
        b.add("department", {"id": "gd.y", "name": "y", "roles": ["source"],
                             "jurisdiction": "y"}, b.root)
        b.checkpoint(key=b.log_key)         # retired key signs again
        self.assertInvalid(self.build(b, "bad"), "checkpoint_key_not_in_force")

    def test_log_key_not_announced(self):
        b = Builder()
        standard_log(b)
        k2 = Key(ORIGIN)
        b.extra_log_keys.append(k2)
        b.add("department", {"id": "gd.x", "name": "x", "roles": ["source"],
                             "jurisdiction": "y"}, b.root)
        b.checkpoint(key=k2)
        self.assertInvalid(self.build(b), "checkpoint_key_not_in_force")

    def test_root_key_rotation(self):
        b = Builder()
        standard_log(b)
        n = len(b.entries)
        root2 = Key(b.root.name)
        b.policy_text = (f"log {b.log_key.vkey()}\nroot {b.root.vkey()} until {n}\n"
                         f"root   {root2.vkey()}\tfrom {n}   # new\n")
        b.add("department", {"id": "gd.x", "name": "x", "roles": ["source"],
                             "jurisdiction": "y"}, root2)
        b.checkpoint()
        self.assertValid(self.build(b))
        b.add("department", {"id": "gd.y", "name": "y", "roles": ["source"],
                             "jurisdiction": "y"}, b.root)
        b.checkpoint()
        self.assertInvalid(self.build(b, "bad"), f"entry {n + 1}: refused: not_root")

    def test_mixed_order_r_is_accepted(self):
        """attestation.md §Signature rule: cofactored equation accepts R + T."""
        b = Builder()
        keys = standard_log(b)
        k = keys["gd.fgw"]
        stmt = b.statement("return_flow_request", {"request": "rf-9", "to": "gd.rst",
                                                   "data_items": ["d"], "region": "x"},
                           k, "gd.fgw")
        msg = b"share-audit/attestation/v1\n" + stmt
        h = hashlib.sha512(k.seed).digest()
        a = int.from_bytes(h[:32], "little")
        a &= (1 << 254) - 8
        a |= 1 << 254
        torsion = verify.ed_decode(bytes.fromhex(ORDER_8_POINT))
        self.assertFalse(verify._ed_is_identity(verify._ed_mul(4, torsion)))
        self.assertTrue(verify.ed_is_small_order(torsion))
        r = int.from_bytes(os.urandom(64), "little") % verify.ED_L
        R = verify._ed_add(verify._ed_mul(r, verify.ED_BASE), torsion)
        rb = encode_point(R)
        kk = int.from_bytes(hashlib.sha512(rb + k.pub + msg).digest(), "little") % verify.ED_L
        s = (r + kk * a) % verify.ED_L
        sig = rb + s.to_bytes(32, "little")
        self.assertTrue(verify.verify_attestation_signature(k.pub, sig, msg))
        self.assertFalse(verify.verify_note_signature(k.pub, sig, msg))
        b.add_raw(stmt, sig)
        b.checkpoint()
        self.assertValid(self.build(b))
        # and a small-order R is refused
        b2 = Builder()
        k2 = standard_log(b2)["gd.fgw"]
        bad = encode_point(torsion) + (0).to_bytes(32, "little")
        b2.add_raw(b2.statement("return_flow_request", {"request": "rf-9", "to": "gd.rst",
                                                        "data_items": ["d"], "region": "x"},
                                k2, "gd.fgw"), bad)
        b2.checkpoint()
        self.assertInvalid(self.build(b2, "bad"), "bad_signature")

    # ---- tampered packages -----------------------------------------------------------------

    def test_tampered_entry_byte(self):
        b = Builder()
        standard_log(b)
        pkg = self.build(b)
        path = os.path.join(pkg, "tile/entries/000.p/%d" % len(b.entries))
        data = bytearray(read_bytes(path))
        pos = data.index(b"\xe7\xbc\xb4") if b"\xe7\xbc\xb4" in data else data.index(b"gd.rst", 400)
        data[pos + 1] ^= 0x01
        write_bytes(path, bytes(data))
        self.assertInvalid(pkg, "root_mismatch", "tile_mismatch")

    def test_missing_tile(self):
        b = Builder()
        standard_log(b, usage_records=260)
        pkg = self.build(b)
        os.remove(os.path.join(pkg, "tile/1/000.p/1"))
        self.assertInvalid(pkg, "FAIL tile/1/000.p/1: missing_file")

    def test_wrong_hash_tile(self):
        b = Builder()
        standard_log(b)
        pkg = self.build(b)
        path = os.path.join(pkg, "tile/0/000.p/%d" % len(b.entries))
        data = bytearray(read_bytes(path))
        data[40] ^= 1
        write_bytes(path, bytes(data))
        self.assertInvalid(pkg, "tile_mismatch")

    def test_unexpected_file(self):
        b = Builder()
        standard_log(b)
        pkg = self.build(b)
        write_bytes(os.path.join(pkg, "tile", "notes.txt"), "x")
        os.makedirs(os.path.join(pkg, "tile/0/x000"))
        write_bytes(os.path.join(pkg, "tile/0/x000/000"), "x")
        out = self.assertInvalid(pkg, "FAIL tile/notes.txt: unexpected_file",
                                 "FAIL tile/0/x000/000: unexpected_file")

    def test_bad_stale_partial(self):
        b = Builder()
        standard_log(b)
        pkg = self.build(b)
        write_bytes(os.path.join(pkg, "tile/0/000.p/3"), b"\x00" * 96)
        self.assertInvalid(pkg, "FAIL tile/0/000.p/3: file_mismatch")

    def test_revoked_key_signs(self):
        b = Builder()
        keys = standard_log(b)
        b.add("key_revocation", {"department": "gd.fgw", "key": b64(keys["gd.fgw"].pub),
                                 "reason": "离职"}, b.root)
        i = b.add("return_flow_request", {"request": "rf-2", "to": "gd.rst",
                                          "data_items": ["d"], "region": "x"}, keys["gd.fgw"])
        b.checkpoint()
        self.assertInvalid(self.build(b), f"FAIL entry {i}: refused: key_revoked")

    def test_replaced_key_expired(self):
        b = Builder()
        keys = standard_log(b)
        b.time += 5
        i = b.add("return_flow", {"request": "rf-1", "data_digest": "sha256:" + "cd" * 32},
                  keys["gd.rst"])
        b.checkpoint()
        self.assertInvalid(self.build(b), f"FAIL entry {i}: refused: key_expired")

    def test_rule_failures(self):
        cases = [
            ("auditor", lambda b, k: b.add("dispute", {"dispute": "d-9", "with": "gd.rst",
                                                       "supervisor": "gd.sup", "subject": "x"},
                                           k["gd.aud"]), "auditor_signs_nothing"),
            ("dup_case", lambda b, k: b.add("application", {
                "case": "case-1", "item": "rst/item-1", "provider": "gd.rst", "data_items": ["a"],
                "legal_basis": "l", "use_scenario": "u", "scope_of_use": "s",
                "sharing_method": "batch_exchange", "use_until": "2027-01-01",
                "approved_by": "a", "declaration": True}, k["gd.fgw"]), "case_exists"),
            ("handler", lambda b, k: b.add("dispute_resolution", {"dispute": "d-1",
                                                                  "outcome": "x"},
                                           k["gd.sup"]), "not_dispute_handler"),
            ("wrong_log", lambda b, k: b.add("department", {"id": "gd.q", "name": "q",
                                                            "roles": ["source"],
                                                            "jurisdiction": "j"},
                                             b.root, log="other.log/x"), "wrong_log"),
            ("signed_at", lambda b, k: b.add("department", {"id": "gd.q", "name": "q",
                                                            "roles": ["source"],
                                                            "jurisdiction": "j"},
                                             b.root, signed_at=b.time + 300_001),
             "signed_at_out_of_range"),
            ("reserved", lambda b, k: b.add("department", {"id": "gd.zsj.root", "name": "q",
                                                           "roles": ["source"],
                                                           "jurisdiction": "j"}, b.root),
             "reserved_for_root"),
            ("root_signs", lambda b, k: b.add("return_flow_request", {
                "request": "rf-7", "to": "gd.rst", "data_items": ["d"], "region": "x"},
                b.root, dept="gd.fgw"), "root_signs_only_registry"),
            ("other_provider", lambda b, k: b.add("delivery", {
                "case": "case-1", "method": "file_download",
                "data_digest": "sha256:" + "00" * 32}, k["gd.sup"]), "not_case_party"),
            ("future_compromise", lambda b, k: b.add("key_revocation", {
                "department": "gd.fgw", "key": b64(k["gd.fgw"].pub), "reason": "r",
                "compromised_since": b.time + 1}, b.root), "compromise_in_future"),
            ("weak", lambda b, k: b.add("log_key", {"key": b64(bytes(32))}, b.root),
             "weak_key"),
            ("torsion_key", lambda b, k: b.add("department_key", {
                "department": "gd.fgw", "key": b64(encode_point(verify._ed_add(
                    verify.ed_decode(Key("t").pub), verify.ed_decode(bytes.fromhex(ORDER_8_POINT)))))},
                b.root), "weak_key"),
            ("key_twice", lambda b, k: b.add("department_key", {
                "department": "gd.sup", "key": b64(k["gd.fgw"].pub)}, b.root),
             "key_already_registered"),
            ("self_escalation", lambda b, k: b.add("dispute_escalation", {
                "dispute": "d-1", "to": "gd.sup2", "reason": "r"}, k["gd.sup2"]),
             "escalation_to_self"),
            ("not_recipient", lambda b, k: b.add("return_flow", {
                "request": "rf-1", "data_digest": "sha256:" + "00" * 32}, k["gd.fgw"]),
             "not_request_recipient"),
            ("empty_window", lambda b, k: b.add("department_key", {
                "department": "gd.sup", "key": b64(Key("n").pub), "valid_until": b.time},
                b.root), "empty_validity_window"),
            ("not_yet_valid", lambda b, k: future_key(b), "key_not_yet_valid"),
            ("other_dept_key", lambda b, k: b.add("return_flow_request", {
                "request": "rf-7", "to": "gd.rst", "data_items": ["d"], "region": "x"},
                k["gd.sup"], dept="gd.fgw"), "key_of_other_department"),
        ]
        for name, make, code in cases:
            with self.subTest(name):
                b = Builder()
                keys = standard_log(b)
                i = make(b, keys)
                b.checkpoint()
                self.assertInvalid(self.build(b, name), f"FAIL entry {i}: refused: {code}")

    def test_strict_json(self):
        bad = [b'{"version":1.0}', b'{"a":1,"a":2}', b'\xef\xbb\xbf{}', b'{"a":-0}',
               b'{"a":"\\ud800"}', b'[' * 17 + b']' * 17, b'{"a":9007199254740992}',
               b'{"a":1e3}', b'{} x', b'{"a":"\xff"}', b'{"a":NaN}']
        for raw in bad:
            with self.assertRaises(verify.Failure, msg=raw):
                verify.parse_strict_json(raw)
        self.assertEqual(verify.parse_strict_json(b'[' * 16 + b']' * 16 + b' \r\n'),
                         [[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]])
        self.assertEqual(verify.parse_strict_json(b'{"a":-9007199254740991}'),
                         {"a": -9007199254740991})

    def test_schema_rejections(self):
        b = Builder()
        keys = standard_log(b)
        k = keys["gd.fgw"]
        base = json.loads(b.statement("return_flow_request", {"request": "rf-8", "to": "gd.rst",
                                                             "data_items": ["d"],
                                                             "region": "x"}, k, "gd.fgw"))
        variants = []
        v = json.loads(json.dumps(base)); v["body"]["extra"] = "x"; variants.append(v)
        v = json.loads(json.dumps(base)); v["body"]["region"] = " \u3000"; variants.append(v)
        v = json.loads(json.dumps(base)); v["body"]["data_items"] = []; variants.append(v)
        v = json.loads(json.dumps(base)); v["signer"] = ["gd.fgw", b64(k.pub)]; variants.append(v)
        v = json.loads(json.dumps(base)); v["version"] = 2; variants.append(v)
        v = json.loads(json.dumps(base)); v["body"]["to"] = "gd rst"; variants.append(v)
        for v in variants:
            stmt = json.dumps(v, ensure_ascii=False).encode()
            b.add_raw(stmt, k.sign(b"share-audit/attestation/v1\n" + stmt))
        b.checkpoint()
        out = self.assertInvalid(self.build(b))
        self.assertEqual(out.count(": bad_entry: "), len(variants))

    def test_signature_rule_edge_cases(self):
        """attestation.md §Signature rule, checks 1-2, and the weak-key check."""
        k = Key("gd.x")
        msg = b"share-audit/attestation/v1\n{}"
        sig = k.sign(msg)
        self.assertTrue(verify.verify_attestation_signature(k.pub, sig, msg))
        s = int.from_bytes(sig[32:], "little") + verify.ED_L          # non-canonical S
        self.assertFalse(verify.verify_attestation_signature(
            k.pub, sig[:32] + s.to_bytes(32, "little"), msg))
        identity = (1).to_bytes(32, "little")                         # small-order A
        self.assertFalse(verify.verify_attestation_signature(identity, sig, msg))
        noncanon = (verify.ED_P + 1).to_bytes(32, "little")           # y >= p: identity again
        self.assertIsNone(verify.ed_decode(noncanon))
        self.assertFalse(verify.verify_attestation_signature(k.pub, sig, msg + b" "))
        torsion = verify.ed_decode(bytes.fromhex(ORDER_8_POINT))
        mixed = encode_point(verify._ed_add(verify.ed_decode(k.pub), torsion))
        self.assertTrue(verify.is_strong_key(k.pub))
        self.assertFalse(verify.is_strong_key(mixed))                 # torsion component
        self.assertFalse(verify.is_strong_key(bytes.fromhex(ORDER_8_POINT)))

    def test_duplicate_statement(self):
        b = Builder()
        keys = standard_log(b)
        k = keys["gd.fgw"]
        stmt = b.statement("return_flow_request", {"request": "rf-5", "to": "gd.rst",
                                                   "data_items": ["d"], "region": "x"}, k, "gd.fgw")
        b.add_raw(stmt, k.sign(b"share-audit/attestation/v1\n" + stmt))
        i = b.add_raw(stmt, k.sign(b"share-audit/attestation/v1\n" + stmt))
        b.checkpoint()
        self.assertInvalid(self.build(b), f"FAIL entry {i}: duplicate_statement")

    def test_time_decreases(self):
        b = Builder()
        standard_log(b)
        i = b.add("department", {"id": "gd.q", "name": "q", "roles": ["source"],
                                 "jurisdiction": "j"}, b.root)
        b.entries[i] = b.entries[i].replace(b"time %d" % b.time, b"time %d" % (b.time - 10_000))
        b.checkpoint()
        self.assertInvalid(self.build(b), f"FAIL entry {i}: time_decreases")

    def test_bad_entry_header(self):
        b = Builder()
        standard_log(b)
        i = b.add("department", {"id": "gd.q", "name": "q", "roles": ["source"],
                                 "jurisdiction": "j"}, b.root)
        b.entries[i] = b.entries[i].replace(b"time ", b"time 0")
        b.checkpoint()
        self.assertInvalid(self.build(b), f"FAIL entry {i}: bad_entry")

    def test_history_and_manifest(self):
        b = Builder()
        standard_log(b)
        pkg = self.build(b)
        c = len(b.checkpoints)
        os.remove(os.path.join(pkg, f"checkpoints/000.p/{c}"))
        self.assertInvalid(pkg, f"FAIL checkpoints/000.p/{c}: missing_file")
        pkg = self.build(b, "m")
        with open(os.path.join(pkg, "manifest"), "wb") as f:
            f.write(f"share-audit/package/v1\norigin other\nsize {len(b.entries)}\n"
                    f"checkpoints {c}\n".encode())
        self.assertInvalid(pkg, "FAIL manifest: wrong_log")
        pkg = self.build(b, "garbage")
        with open(os.path.join(pkg, "manifest"), "wb") as f:
            f.write(os.urandom(50))
        with open(os.path.join(pkg, "checkpoint"), "wb") as f:
            f.write(os.urandom(50))
        self.assertInvalid(pkg, "FAIL manifest: bad_manifest", "FAIL checkpoint:")

    def test_forged_checkpoint_signature(self):
        b = Builder()
        standard_log(b)
        b.checkpoints[1] = b.checkpoints[1].replace(b"\n", b"\n", 1)[:-10] + b"AAAAAAAAA\n"
        c = len(b.checkpoints)
        self.assertInvalid(self.build(b), f"FAIL checkpoints/000.p/{c}: checkpoint 1: "
                                          "bad_checkpoint")

    def test_rewritten_history(self):
        """A checkpoint whose root is not the tree's at its size (a fork)."""
        b = Builder()
        standard_log(b)
        saved = b.entries
        b.entries = saved[:3] + [saved[4]]
        b.checkpoint()
        forged = b.checkpoints.pop()
        b.entries = saved
        b.checkpoints.insert(1, forged)     # size 4 between size 0 and the next
        self.assertInvalid(self.build(b), "root_mismatch")

    def test_policy_mismatch_and_usage(self):
        b = Builder()
        standard_log(b)
        pkg = self.build(b)
        other = Builder()
        pol = os.path.join(self.dir, "other-policy.txt")
        write_bytes(pol, other.policy())
        self.assertInvalid(pkg, "FAIL policy.txt: policy_differs", policy=pol)
        # usage errors
        for text in ("", "log x\n", f"log {b.log_key.vkey()}\n",
                     f"log {b.log_key.vkey()}\nroot {b.root.vkey()} until 0\n",
                     f"log {b.log_key.vkey()}\nroot {b.root.vkey()}\nroot {b.root.vkey()}\n",
                     f"log {b.log_key.vkey()}\nroot {b.root.vkey()}\nwitness x\n"):
            write_bytes(pol, text)
            rc, out, err = run_verify(pkg, pol)
            self.assertEqual(rc, 2, text + out + err)
        rc, _, _ = run_verify(os.path.join(self.dir, "nope"), os.path.join(pkg, "policy.txt"))
        self.assertEqual(rc, 2)
        rc, _, _ = run_verify(pkg, os.path.join(self.dir, "missing-policy"))
        self.assertEqual(rc, 2)

    # ---- policy.txt byte for byte (package.md §The audit) -----------------------------------

    def test_policy_copy_byte_for_byte(self):
        b = Builder()
        standard_log(b)
        pkg = self.build(b)
        given = os.path.join(self.dir, "given.txt")
        # the same policy written differently is no longer good enough
        lines = b.policy().splitlines()
        write_bytes(given, "# comment\n\n" + "\n".join(f"  {l}   # c" for l in reversed(lines)))
        self.assertInvalid(pkg, "FAIL policy.txt: policy_differs", policy=given)
        write_bytes(given, b.policy() + "\n")             # one byte more
        self.assertInvalid(pkg, "FAIL policy.txt: policy_differs", policy=given)
        # a UTF-8 BOM aside, on either side
        write_bytes(given, b"\xef\xbb\xbf" + b.policy().encode())
        self.assertValid(pkg, policy=given)
        write_bytes(os.path.join(pkg, "policy.txt"), b"\xef\xbb\xbf" + b.policy().encode())
        self.assertValid(pkg)
        write_bytes(given, b.policy())
        self.assertValid(pkg, policy=given)
        # a copy that was altered, here a comment added
        write_bytes(os.path.join(pkg, "policy.txt"), b.policy() + "# added\n")
        self.assertInvalid(pkg, "FAIL policy.txt: policy_differs", policy=given)
        os.remove(os.path.join(pkg, "policy.txt"))
        self.assertInvalid(pkg, "FAIL policy.txt: missing_file", policy=given)

    # ---- calendar files (package.md step 6, calendar.md) ------------------------------------

    JURISDICTION = ("share-audit/calendar/v1\n# 广东\njurisdiction 广东省\n"
                    "source 广东省人民政府 2025-12-01 粤府函〔2025〕1号\n"
                    "off 2026-03-03 地方假日\nwork 2026-03-07 调休\ndeadline delivery 15\n")

    def calendar_pkg(self, name="pkg"):
        b = Builder()
        standard_log(b)
        return self.build(b, name)

    def test_calendar_built_in_altered(self):
        pkg = self.calendar_pkg()
        path = os.path.join(pkg, "calendar", "cn-2026.txt")
        write_bytes(path, read_bytes(path).replace(b"off 2026-05-05", b"off 2026-05-06"))
        self.assertInvalid(pkg, "FAIL calendar/cn-2026.txt: calendar_differs")
        # even a change that still parses and says the same (a comment) differs
        write_bytes(path, read_bytes(os.path.join(CALENDARS, "cn-2026.txt")) + b"# x\n")
        self.assertInvalid(pkg, "FAIL calendar/cn-2026.txt: calendar_differs")

    def test_calendar_built_in_missing(self):
        pkg = self.calendar_pkg()
        os.remove(os.path.join(pkg, "calendar", "cn-2025.txt"))
        out = self.assertInvalid(pkg, "FAIL calendar/cn-2025.txt: missing_file")
        self.assertNotIn("cn-2026", out)
        shutil.rmtree(os.path.join(pkg, "calendar"))
        self.assertInvalid(pkg, "FAIL calendar/cn-2025.txt: missing_file",
                           "FAIL calendar/cn-2026.txt: missing_file")

    def test_calendar_year_given_by_another_file(self):
        """package.md step 6: no other file may give a built-in year (calendar_differs), and
        each built-in year MUST be there (its file: missing_file)."""
        pkg = self.calendar_pkg()
        cal = os.path.join(pkg, "calendar")
        os.rename(os.path.join(cal, "cn-2025.txt"), os.path.join(cal, "cn-2025-corrected.txt"))
        out = self.assertInvalid(pkg, "FAIL calendar/cn-2025-corrected.txt: calendar_differs",
                                 "FAIL calendar/cn-2025.txt: missing_file")
        self.assertIn("failures 2 ", out)
        # even beside the built-in file, and even byte for byte the same
        shutil.copy(os.path.join(CALENDARS, "cn-2025.txt"), cal)
        out = self.assertInvalid(pkg, "FAIL calendar/cn-2025-corrected.txt: calendar_differs")
        self.assertIn("failures 1 ", out)
        # a corrected year under another name that still says `year 2025`
        write_bytes(os.path.join(cal, "cn-2025-corrected.txt"),
                    "share-audit/calendar/v1\nyear 2025\nsource 国务院办公厅 2024-11-01 通知\n")
        self.assertInvalid(pkg, "FAIL calendar/cn-2025-corrected.txt: calendar_differs")
        os.remove(os.path.join(cal, "cn-2025-corrected.txt"))
        self.assertValid(pkg)

    def test_calendar_further_files(self):
        pkg = self.calendar_pkg()
        cal = os.path.join(pkg, "calendar")
        write_bytes(os.path.join(cal, "gd.txt"), self.JURISDICTION)
        write_bytes(os.path.join(cal, "cn-2027.txt"),
                    "share-audit/calendar/v1\nyear 2027\nsource 国务院办公厅 2026-11-01 通知\n"
                    "\noff 2027-01-01 元旦\n")
        self.assertValid(pkg)
        write_bytes(os.path.join(cal, ".gd.txt.tmp"), "junk")    # names starting with '.'
        self.assertValid(pkg)
        write_bytes(os.path.join(cal, "gd.cal"), "x")
        self.assertInvalid(pkg, "FAIL calendar/gd.cal: unexpected_file")

    def test_calendar_parse_errors(self):
        good = self.JURISDICTION
        bad = {
            "header": good.replace("share-audit/calendar/v1", "share-audit/calendar/v2"),
            "bom": "\ufeff" + good,
            "no_source": good.replace("source 广东省人民政府 2025-12-01 粤府函〔2025〕1号\n", ""),
            "no_kind": good.replace("jurisdiction 广东省\n", ""),
            "two_kinds": good.replace("jurisdiction 广东省\n", "jurisdiction 广东省\nyear 2026\n"),
            "off_weekend": good.replace("off 2026-03-03", "off 2026-03-07"),
            "work_weekday": good.replace("work 2026-03-07", "work 2026-03-06"),
            "twice": good + "off 2026-03-03 再次\n",
            "bad_date": good.replace("off 2026-03-03", "off 2026-02-30"),
            "deadline_long": good.replace("delivery 15", "delivery 21"),
            "deadline_zero": good.replace("delivery 15", "delivery 0"),
            "deadline_name": good.replace("deadline delivery", "deadline deliver"),
            "deadline_twice": good + "deadline delivery 10\n",
            "unknown": good + "holiday 2026-03-04 x\n",
            "no_label": good.replace("off 2026-03-03 地方假日", "off 2026-03-03"),
            "national_other_year": "share-audit/calendar/v1\nyear 2027\nsource a 2026-01-01 d\n"
                                   "off 2026-12-31 x\n",
            "national_deadline": "share-audit/calendar/v1\nyear 2027\nsource a 2026-01-01 d\n"
                                 "deadline delivery 3\n",
            "not_utf8": good.encode() + b"\xff\n",
        }
        for name, text in bad.items():
            with self.subTest(name):
                pkg = self.calendar_pkg(name)
                write_bytes(os.path.join(pkg, "calendar", "x.txt"), text)
                self.assertInvalid(pkg, "FAIL calendar/x.txt: bad_calendar")
        # across files: two jurisdictions, and one day listed differently is refused
        pkg = self.calendar_pkg("two")
        write_bytes(os.path.join(pkg, "calendar", "gd.txt"), good)
        write_bytes(os.path.join(pkg, "calendar", "sz.txt"),
                    good.replace("jurisdiction 广东省", "jurisdiction 深圳市"))
        self.assertInvalid(pkg, "FAIL calendar/sz.txt: bad_calendar")
        pkg = self.calendar_pkg("same")
        write_bytes(os.path.join(pkg, "calendar", "gd.txt"), good)
        write_bytes(os.path.join(pkg, "calendar", "gd2.txt"), good.replace("deadline delivery 15\n",
                                                                         ""))
        self.assertValid(pkg)      # one jurisdiction in two files, a day listed the same way

    # ---- log key ranges (policy.md §Log key rotation, checkpoint.md §Key rotation) ----------

    def rotated_log(self, ranges=True):
        """Old key signs up to size n, a log_key entry announces k2, k2 signs from then on;
        with `ranges`, the policy gives the old key `until n` and k2 `from n`."""
        b = Builder()
        standard_log(b)
        k2 = Key(ORIGIN)
        b.extra_log_keys.append(k2)
        b.add("log_key", {"key": b64(k2.pub)}, b.root)
        b.checkpoint()                      # the old key signs size n
        n = len(b.entries)
        if ranges:
            b.log_ranges = {b.log_key: f" until {n}", k2: f" from {n}"}
        b.signing_log_key = k2
        b.add("department", {"id": "gd.x", "name": "x", "roles": ["source"],
                             "jurisdiction": "y"}, b.root)
        b.checkpoint()                      # k2 takes over at size n + 1
        return b, k2, n

    def test_log_key_ranges_valid(self):
        b, k2, n = self.rotated_log()
        self.assertIn(f" until {n}\n", b.policy())
        self.assertValid(self.build(b))
        # `from 0` written out, and both words on one line, parse too
        b.log_ranges = {b.log_key: f" from 0 until {n}", k2: f"\tfrom  {n}"}
        self.assertValid(self.build(b, "spelled"))

    def test_log_key_signs_after_its_until(self):
        """The old key, even stolen, signs no checkpoint of more than n entries; here the
        rotation rules alone would accept it (k2 was never announced and took over)."""
        b = Builder()
        standard_log(b)
        n = len(b.entries)
        k2 = Key(ORIGIN)
        b.extra_log_keys.append(k2)
        b.log_ranges = {b.log_key: f" until {n}", k2: f" from {n}"}
        b.add("department", {"id": "gd.x", "name": "x", "roles": ["source"],
                             "jurisdiction": "y"}, b.root)
        b.checkpoint()                      # old key, size n + 1: outside its range
        last = len(b.checkpoints) - 1
        out = self.assertInvalid(self.build(b),
                                 f"FAIL checkpoint {last}: checkpoint_key_not_in_force")
        self.assertIn("outside its range", out)
        self.assertNotIn("FAIL checkpoint: ", out)   # the same bytes: reported once

    def test_log_key_signs_before_its_from(self):
        b, k2, n = self.rotated_log()
        b.log_ranges[k2] = f" from {n + 1}"  # k2 may sign size n + 2 and up only
        last = len(b.checkpoints) - 1
        self.assertInvalid(self.build(b), f"FAIL checkpoint {last}: checkpoint_key_not_in_force")
        # `until n` admits size n (newest entry n - 1), `until n - 1` does not
        b, k2, n = self.rotated_log()
        b.log_ranges[b.log_key] = f" until {n - 1}"
        out = self.assertInvalid(self.build(b, "until"), "checkpoint_key_not_in_force")
        self.assertEqual(out.count("checkpoint_key_not_in_force"), 1, out)

    def test_empty_tree_needs_range_from_0(self):
        b = Builder()
        b.log_ranges = {b.log_key: " from 1"}
        b.add("department", {"id": "gd.x", "name": "x", "roles": ["source"],
                             "jurisdiction": "y"}, b.root)
        b.checkpoint()                      # size 1: newest entry 0, not in [1, ...)
        b.add("department", {"id": "gd.y", "name": "y", "roles": ["source"],
                             "jurisdiction": "y"}, b.root)
        b.checkpoint()                      # size 2: newest entry 1, in range
        out = self.assertInvalid(self.build(b), "FAIL checkpoint 0: checkpoint_key_not_in_force",
                                 "FAIL checkpoint 1: checkpoint_key_not_in_force")
        self.assertNotIn("FAIL checkpoint 2:", out)

    def test_checkpoint_file_key_out_of_range(self):
        """The `checkpoint` file, when it is not the history's last checkpoint, is checked on
        its own and reported at `checkpoint` (package.md names no other place for it)."""
        b = Builder()
        standard_log(b)
        n = len(b.entries)
        b.log_ranges = {b.log_key: f" until {n}"}
        pkg = self.build(b)
        b.add("department", {"id": "gd.x", "name": "x", "roles": ["source"],
                             "jurisdiction": "y"}, b.root)
        b.checkpoint()
        write_bytes(os.path.join(pkg, "checkpoint"), b.checkpoints[-1])
        self.assertInvalid(pkg, "FAIL checkpoint: checkpoint_key_not_in_force",
                           "FAIL checkpoint: checkpoint_mismatch")

    def test_checkpoint_signed_by_two_log_keys(self):
        b, k2, n = self.rotated_log(ranges=False)
        b.add("department", {"id": "gd.z", "name": "z", "roles": ["source"],
                             "jurisdiction": "y"}, b.root)
        b.checkpoint(key=k2, also=(b.log_key,))
        last = len(b.checkpoints) - 1
        out = self.assertInvalid(self.build(b), f"FAIL checkpoint {last}: "
                                                "checkpoint_key_not_in_force")
        self.assertIn("not exactly one", out)
        # a line of a key not in the policy (a witness, say) is ignored: still one log key
        b, k2, n = self.rotated_log(ranges=False)
        b.add("department", {"id": "gd.z", "name": "z", "roles": ["source"],
                             "jurisdiction": "y"}, b.root)
        b.checkpoint(key=k2, also=(Key(ORIGIN),))
        self.assertValid(self.build(b, "other"))

    def test_log_line_range_syntax(self):
        b = Builder()
        pkg = self.build(b)
        pol = os.path.join(self.dir, "p.txt")
        v, r = b.log_key.vkey(), b.root.vkey()
        for suffix in (" until 0", " from 5 until 5", " from", " until", " from x",
                       " until 3 from 1", " from 01", " to 3", " from 1 until 2 3"):
            write_bytes(pol, f"log {v}{suffix}\nroot {r}\n")
            rc, out, err = run_verify(pkg, pol)
            self.assertEqual(rc, 2, suffix + out + err)
        for suffix in (" from 0", " until 1", " from 0 until 7", "  # from 9"):
            b.log_ranges = {b.log_key: suffix}
            self.assertValid(self.build(b, "ok"))

    # ---- the history ends at its first missing or broken bundle (package.md step 2) ---------

    def long_history(self):
        b = Builder()
        standard_log(b)
        for j in range(260):            # more than 256 checkpoints: two bundles
            b.add("department", {"id": f"gd.d{j}", "name": "d", "roles": ["source"],
                                 "jurisdiction": "j"}, b.root)
            b.checkpoint()
        return b

    def test_history_ends_at_first_missing_bundle(self):
        b = self.long_history()
        c = len(b.checkpoints)
        self.assertValid(self.build(b))
        pkg = self.build(b, "missing")
        os.remove(os.path.join(pkg, "checkpoints/000"))
        out = self.assertInvalid(pkg, "FAIL checkpoints/000: missing_file")
        self.assertIn("failures 1 ", out)                   # bundle 1 is not read
        pkg = self.build(b, "broken")
        write_bytes(os.path.join(pkg, "checkpoints/000"), b"\x00")
        with open(os.path.join(pkg, f"checkpoints/001.p/{c - 256}"), "ab") as f:
            f.write(b"junk")                                # not read: the history ended
        out = self.assertInvalid(pkg, "FAIL checkpoints/000: bad_bundle")
        self.assertIn("failures 1 ", out)

    def test_huge_checkpoint_count(self):
        b = Builder()
        standard_log(b)
        pkg = self.build(b)
        for count in (10**30, 2**40 + 5):
            write_bytes(os.path.join(pkg, "manifest"), f"share-audit/package/v1\norigin "
                        f"{ORIGIN}\nsize {len(b.entries)}\ncheckpoints {count}\n")
            p = subprocess.run([sys.executable, VERIFY, pkg, "--policy",
                                os.path.join(pkg, "policy.txt")],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("FAIL checkpoints/000: missing_file", p.stdout)
            self.assertNotIn("Traceback", p.stderr)

    # ---- a failing entry changes nothing (package.md step 4) --------------------------------

    def test_failing_entry_changes_nothing(self):
        b = Builder()
        standard_log(b)
        q = Key("gd.q")
        i = b.add("department", {"id": "gd.q", "name": "q", "roles": ["source"],
                                 "jurisdiction": "j"}, b.root)
        b.entries[i] = b.entries[i].replace(b"time %d" % b.time, b"time %d" % (b.time - 10_000))
        j = b.add("department_key", {"department": "gd.q", "key": b64(q.pub)}, b.root)
        b.checkpoint()
        self.assertInvalid(self.build(b), f"FAIL entry {i}: time_decreases",
                           f"FAIL entry {j}: refused: unknown_department")
        # the same with a bad signature, and a refused key: nothing registered either
        b = Builder()
        standard_log(b)
        i = b.add("department", {"id": "gd.q", "name": "q", "roles": ["source"],
                                 "jurisdiction": "j"}, b.root)
        b.entries[i] = b.entries[i][:-2] + b"  "
        j = b.add("department_key", {"department": "gd.q", "key": b64(q.pub)}, b.root)
        b.checkpoint()
        self.assertInvalid(self.build(b, "sig"), f"FAIL entry {i}: bad_entry",
                           f"FAIL entry {j}: refused: unknown_department")

    def test_every_flag_is_listed(self):
        b = Builder()
        keys = standard_log(b, usage_records=30)
        b.add("key_revocation", {"department": "gd.fgw", "key": b64(keys["gd.fgw"].pub),
                                 "reason": "泄露", "compromised_since": T0}, b.root)
        b.checkpoint()
        out = self.assertValid(self.build(b))
        flags = [l for l in out.splitlines() if l.startswith("FLAG signed_after_compromise ")]
        self.assertGreater(len(flags), 30)
        self.assertIn(f" flags {len(flags)}\n", out)

    # ---- where failures are (package.md §Report) --------------------------------------------

    def test_checkpoint_order_where(self):
        b = Builder()
        standard_log(b)
        b.checkpoints[1], b.checkpoints[2] = b.checkpoints[2], b.checkpoints[1]
        out = self.assertInvalid(self.build(b), "FAIL checkpoint 2: checkpoint_order")
        self.assertNotIn("checkpoints/000.p", out.split("checkpoint_order")[0].splitlines()[-1])

    # ---- non-regular and oversized files, odd names (package.md §Report) --------------------

    def test_symbolic_links_are_not_followed(self):
        b = Builder()
        standard_log(b)
        good = self.build(b, "good")
        pkg = self.build(b)
        os.remove(os.path.join(pkg, "manifest"))
        os.symlink(os.path.join(good, "manifest"), os.path.join(pkg, "manifest"))
        self.assertInvalid(pkg, "FAIL manifest: unexpected_file")
        pkg = self.build(b, "tile")
        tile = [t for t in os.listdir(os.path.join(pkg, "tile/0/000.p"))][0]
        rel = f"tile/0/000.p/{tile}"
        os.remove(os.path.join(pkg, rel))
        os.symlink(os.path.join(good, rel), os.path.join(pkg, rel))
        os.symlink(os.path.join(good, rel), os.path.join(pkg, "tile/0/000.p/1"))
        self.assertInvalid(pkg, f"FAIL {rel}: unexpected_file",
                           "FAIL tile/0/000.p/1: unexpected_file")
        pkg = self.build(b, "cal")
        shutil.rmtree(os.path.join(pkg, "calendar"))
        os.symlink(os.path.join(good, "calendar"), os.path.join(pkg, "calendar"))
        self.assertInvalid(pkg, "FAIL calendar: unexpected_file",
                           "FAIL calendar/cn-2026.txt: missing_file")
        pkg = self.build(b, "sub")
        os.symlink(os.path.join(good, "tile"), os.path.join(pkg, "checkpoints", "loop"))
        out = self.assertInvalid(pkg, "FAIL checkpoints/loop: unexpected_file")
        self.assertNotIn("checkpoints/loop/", out)           # not entered

    def test_fifo_is_unexpected_and_not_opened(self):
        b = Builder()
        standard_log(b)
        pkg = self.build(b)
        os.remove(os.path.join(pkg, "checkpoint"))
        os.mkfifo(os.path.join(pkg, "checkpoint"))
        os.mkfifo(os.path.join(pkg, "calendar", "x.txt"))
        os.mkfifo(os.path.join(pkg, "tile", "0", "000.p", "1"))
        p = subprocess.run([sys.executable, VERIFY, pkg, "--policy",
                            os.path.join(pkg, "policy.txt")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        for where in ("checkpoint", "calendar/x.txt", "tile/0/000.p/1"):
            self.assertIn(f"FAIL {where}: unexpected_file", p.stdout)

    def test_oversized_file_is_unreadable(self):
        b = Builder()
        standard_log(b)
        pkg = self.build(b)
        for rel in ("checkpoint", "calendar/cn-2026.txt"):
            with open(os.path.join(pkg, rel), "r+b") as f:
                f.truncate(16_777_473)                      # sparse: quick
        out = self.assertInvalid(pkg, "FAIL checkpoint: unreadable_file",
                                 "FAIL calendar/cn-2026.txt: unreadable_file")
        self.assertNotIn("calendar_differs", out)
        with open(os.path.join(pkg, "checkpoint"), "r+b") as f:
            f.truncate(16_777_472)                          # the largest size is read
        out = self.assertInvalid(pkg)
        self.assertNotIn("FAIL checkpoint: unreadable_file", out)

    def test_control_characters_in_names_are_escaped(self):
        b = Builder()
        pkg = self.build(b)
        write_bytes(os.path.join(pkg, "evil\x1b[2J\nFAIL x"), "x")
        os.makedirs(os.path.join(pkg, "tile"), exist_ok=True)
        write_bytes(os.path.join(pkg.encode(), b"tile", b"bad\xff\x85"), "x")
        write_bytes(os.path.join(pkg, "calendar", "c\u0085.txt"), "x")
        p = subprocess.run([sys.executable, VERIFY, pkg, "--policy",
                            os.path.join(pkg, "policy.txt")], capture_output=True)
        self.assertEqual(p.returncode, 1)
        out = p.stdout.decode("utf-8")
        self.assertIn("FAIL evil\\x1b[2J\\x0aFAIL x: unexpected_file", out)
        self.assertIn("FAIL tile/bad\\xff\\x85: unexpected_file", out)
        self.assertIn("FAIL calendar/c\\u0085.txt: bad_calendar", out)
        self.assertFalse(any(c < 0x20 and c != 0x0a for c in p.stdout), out)
        self.assertEqual(out.count("\n"), len(out.splitlines()))
        self.assertNotIn("\x85", out)

    # ---- names at the top of the package ----------------------------------------------------

    def test_unexpected_top_level_names(self):
        pkg = self.calendar_pkg()
        write_bytes(os.path.join(pkg, ".manifest.tmp"), "partial export")  # ignored
        os.makedirs(os.path.join(pkg, ".cache"))
        write_bytes(os.path.join(pkg, ".cache", "x"), "x")
        os.makedirs(os.path.join(pkg, "tile", ".tmp"))
        write_bytes(os.path.join(pkg, "tile", ".tmp", "000"), "x")
        self.assertValid(pkg)
        write_bytes(os.path.join(pkg, "README"), "hello")
        os.makedirs(os.path.join(pkg, "extra"))
        write_bytes(os.path.join(pkg, "extra", "a"), "a")
        self.assertInvalid(pkg, "FAIL README: unexpected_file", "FAIL extra: unexpected_file")

    # ---- dedup (package.md step 4) -----------------------------------------------------------

    def dedup_log(self):
        b = Builder()
        keys = standard_log(b)
        k = keys["gd.fgw"]
        stmt = b.statement("return_flow_request", {"request": "rf-5", "to": "gd.rst",
                                                   "data_items": ["d"], "region": "x"},
                           k, "gd.fgw", signed_at=b.time + 300_000)
        return b, k, stmt, k.sign(b"share-audit/attestation/v1\n" + stmt)

    def test_dedup_window_inclusive(self):
        # signed_at = t0 + 5 min is in range for entries at t0 and at t0 + 24 h 5 min
        b, k, stmt, sig = self.dedup_log()
        t0 = b.time
        b.add_raw(stmt, sig, time=t0)
        b.time = t0 + 86_700_000
        i = b.add_raw(stmt, sig)
        b.checkpoint()
        self.assertInvalid(self.build(b), f"FAIL entry {i}: duplicate_statement")
        # one millisecond later it is outside the window (and refused for its signed_at)
        b, k, stmt, sig = self.dedup_log()
        t0 = b.time
        b.add_raw(stmt, sig, time=t0)
        b.time = t0 + 86_700_001
        i = b.add_raw(stmt, sig)
        b.checkpoint()
        out = self.assertInvalid(self.build(b, "later"),
                                 f"FAIL entry {i}: refused: signed_at_out_of_range")
        self.assertNotIn("duplicate_statement", out)

    def test_dedup_counts_only_verified_statements(self):
        b, k, stmt, sig = self.dedup_log()
        bad_sig = bytes([sig[0] ^ 1]) + sig[1:]
        i = b.add_raw(stmt, bad_sig)                  # parsed, signature fails: not counted
        j = b.add_raw(stmt, sig)
        b.checkpoint()
        out = self.assertInvalid(self.build(b), f"FAIL entry {i}: bad_signature")
        self.assertNotIn("duplicate_statement", out)
        self.assertNotIn(f"entry {j}:", out)
        # an entry the rules refuse still counts, and dedup comes before the rules
        b, k, stmt, _ = self.dedup_log()
        other = Key("gd.fgw")                         # not registered: refused unknown_key
        stmt = stmt.replace(b64(k.pub).encode(), b64(other.pub).encode())
        sig = other.sign(b"share-audit/attestation/v1\n" + stmt)
        i = b.add_raw(stmt, sig)
        j = b.add_raw(stmt, sig)
        b.checkpoint()
        self.assertInvalid(self.build(b, "refused"), f"FAIL entry {i}: refused: unknown_key",
                           f"FAIL entry {j}: duplicate_statement")
        # a statement that does not parse is not counted either
        b, k, stmt, _ = self.dedup_log()
        broken = stmt[:-1]
        sig = k.sign(b"share-audit/attestation/v1\n" + broken)
        i = b.add_raw(broken, sig)
        j = b.add_raw(broken, sig)
        b.checkpoint()
        out = self.assertInvalid(self.build(b, "unparsed"), f"FAIL entry {i}: bad_entry",
                                 f"FAIL entry {j}: bad_entry")
        self.assertNotIn("duplicate_statement", out)

    # ---- pure Python and the optional fast path agree --------------------------------------

    def test_pure_python_path(self):
        b = Builder()
        keys = standard_log(b)
        b.add("key_revocation", {"department": "gd.fgw", "key": b64(keys["gd.fgw"].pub),
                                 "reason": "泄露", "compromised_since": T0 + 3000}, b.root)
        b.checkpoint()
        pkg = self.build(b)
        env = dict(os.environ, VERIFY_PURE_PYTHON="1")
        pure = subprocess.run([sys.executable, VERIFY, pkg, "--policy",
                               os.path.join(pkg, "policy.txt")], capture_output=True, text=True,
                              env=env)
        rc, out, _ = run_verify(pkg)
        self.assertEqual((pure.returncode, pure.stdout), (rc, out))
        self.assertEqual(rc, 0)

    def test_garbage_everywhere_never_crashes(self):
        b = Builder()
        standard_log(b)
        pkg = self.build(b)
        for dp, _, files in os.walk(pkg):
            for f in files:
                if f != "policy.txt":
                    p = os.path.join(dp, f)
                    data = bytearray(read_bytes(p) or b"\x00")
                    data[len(data) // 2] ^= 0xFF
                    write_bytes(p, bytes(data))
        self.assertInvalid(pkg)


class RealPackageTests(unittest.TestCase):
    """Packages exported by the Rust notary, when present on this machine."""

    def test_real_packages_are_valid(self):
        found = False
        for pkg in ("/tmp/pkg-demo", "/tmp/pkg-a", "/tmp/pkg-c", "/tmp/pkg-big"):
            if not os.path.isdir(pkg):
                continue
            found = True
            with self.subTest(pkg):
                rc, out, err = run_verify(pkg, os.path.join(pkg, "policy.txt"))
                self.assertEqual(rc, 0, out + err)
        if not found:
            self.skipTest("no real package in /tmp")

    def test_tampered_packages_are_invalid(self):
        top = "/tmp/pkg-tampered"
        if not os.path.isdir(top):
            self.skipTest("no /tmp/pkg-tampered")
        for name in sorted(os.listdir(top)):
            with self.subTest(name):
                rc, out, err = run_verify(os.path.join(top, name), "/tmp/pkg-demo/policy.txt")
                self.assertEqual(rc, 1, out + err)


def encode_point(pt):
    x, y, z, _ = pt
    zi = pow(z, verify.ED_P - 2, verify.ED_P)
    x, y = x * zi % verify.ED_P, y * zi % verify.ED_P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


if __name__ == "__main__":
    unittest.main()
