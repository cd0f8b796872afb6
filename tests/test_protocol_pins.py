"""Tripwires for the two provenance gaps no digest covers yet (docs/provenance.md, "Known gaps").

``runner.py``'s protocol functions and the dataset specs shape every record, but an edit of either does not make a
record stale: ``runner.py`` is in no code digest, and a cell's key holds its data file's sha256, not its spec. The
fix (a digested protocol module, the spec in the key) waits for the next full recompute (docs/recompute.md). Until
then these tests pin both, so such an edit fails CI instead of leaving the committed records silently reused.

A failure is not a bug to pin away. If the edit can change a record, recompute the records it changes (the
message says how); if it cannot, say why in the commit message. Then put the printed value into the pin below.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import inspect
import json
import textwrap

import pytest

from vaeac_bench import runner
from vaeac_bench.datasets import SPECS

#: runner functions that decide what a cell computes and records: the split, seeds, fit, imputations and scores
#: (``compute_cell``), the method's seed, where an estimator runs, and the draws the distributional scores see.
#: Each value is the sha256 of the function's source as ``ast.unparse`` writes it without its docstring (layout
#: and comments do not count), computed with CPython 3.11, CI's Python (none of these functions holds an f-string,
#: the construct most likely to unparse differently on a later Python).
PROTOCOL_PINS: dict[str, str] = {
    "compute_cell": "03cd63a08299eac296438085c8caa9251eb8560c26d27782aa66c96c593fec26",
    "method_seed": "7cc63995022b0b52905248250598f1c785208705efa8eb1207f879b40aedf1a2",
    "_place": "e874e7b318a04849ea7a2e224f2296fb3cfb3c392104ae851fbbd6521d5613ca",
    "distributional_record": "3bdbf15ffcbb285481c24b6deccd074b2502f581201d50d61d65d2b4c92d0982",
}

#: every registered dataset's spec, without its title, notes, file path and download URL (they never change a
#: result; the data file's sha256 is in the cell's key already)
SPEC_PINS: dict[str, str] = {
    "boston": "57057995c937f19910fb0929f874860905fd22c9312ff8cfcb0c505f59d73f45",
    "breast": "6303fd4c70b8e6d8e0dd79f80186338964434f0fa34ff377544c5db8ba4599bb",
    "celeba128": "52b8a72e414c06f82b28261959f194b7e9483b8e9772cbd30d0a0820f43fd2ce",
    "celeba64": "0c4d3486a26afe12214512748a9e7d8d46fa191347e09e5cdb1f7ffd47119cc5",
    "concrete": "b80b190dca7ff43cb9650379167ea2a5ae8611fdb6136533d3313ebe9d029532",
    "diabetes": "1ca07e8e945c104f3a882e8dea42f058d9760acf6550b613e956a1d0c13a9b8a",
    "digits": "2a6e7140d80d73e5aba03002b1b3ca3d2f45c2af1834800a912dd4f5ae504c1c",
    "glass": "5d183beedc2efb2c37043b315921e012264bf681c0feb4f18cb6dc155e306426",
    "iris": "3667e77d1810c7399f502dcedb1d384708ea8d2e598284a31e818790f91f43ad",
    "mnist": "e4f8c4665716f5fb44ab16e92df9f03c56c2dea02f039d9402cd2fcbe10eef68",
    "mushroom": "08c9432dee2e09a2e4c4c3b19b2936bc1e934b8e0385dba29be78b67a2fa8715",
    "omniglot": "7c9caadf16a7b32309b928f55d0764fdb50ccfb4f471f8bfcf1dd5fae08749d7",
    "omniglot28": "8ee8173ca6d564ff336026fe0cd68f4f41fa98c574e27e7a8c8cf52e8ff9d006",
    "orthopedic": "bb0a677ea5a311ec7185806f602b3e83b9e8dc9e9417a691ad4d0c1fe671d087",
    "orthopedic-2c": "37f0a6db37c7502dcb1d9751e2bd3395c8f5525a2d812927be0af142e6ff60f8",
    "phishing": "b16b1cb10a4fff2cfbc702ece40a3570b514507658ff54ac57a078d521d5f5b3",
    "wallrobot": "9cf6deb98cbf2b72b7ef6ba5d4f52a6ed2d23283c4d03f653d10aa6737a1c5dd",
    "whitewine": "2f1cf5f59fbd77782acc42493fb3b822a6999d0f2f18d2c029386faf815cda5b",
    "yeast": "cdaeaa4f30287f9289fa0c34cc14d6a07f2b3a8f5b11173b056b00c4ce85dfe3",
    "zoo": "e6faf5a1873da3d93a09555db9ca910987edea539cd680d03da13db4ae69a72d",
}

_SPEC_FREE = {"title", "notes", "path", "url"}


def function_fingerprint(fn: object) -> str:
    """sha256 of ``fn``'s source as ``ast.unparse`` writes it, its docstring dropped."""
    node = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]
    assert isinstance(node, ast.FunctionDef)
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.unparse(node).encode()).hexdigest()


def _without_free(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: _without_free(v) for k, v in obj.items() if k not in _SPEC_FREE}
    if isinstance(obj, list | tuple):
        return [_without_free(v) for v in obj]
    return obj


def spec_fingerprint(spec: object) -> str:
    """sha256 of a dataset spec's fields that can change a record (every field but :data:`_SPEC_FREE`)."""
    fields = _without_free(dataclasses.asdict(spec))  # type: ignore[call-overload]
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


@pytest.mark.parametrize("name", sorted(PROTOCOL_PINS))
def test_the_protocol_functions_are_the_pinned_ones(name: str) -> None:
    now = function_fingerprint(getattr(runner, name))
    assert now == PROTOCOL_PINS[name], (
        f"runner.{name} changed, and runner.py is in no code digest: every committed record computed with the old "
        f"code would still count as current. If the change can alter a record, recompute the records it alters "
        f"(for a change to every cell, bump runner.PROTOCOL_VERSION: every cell gets a new key and `run-bench` "
        f"recomputes it); if it cannot, say why in the commit message. Then set PROTOCOL_PINS[{name!r}] in "
        f"{__file__} to {now!r}.")


def test_every_protocol_function_is_pinned() -> None:
    missing = [n for n in PROTOCOL_PINS if not callable(getattr(runner, n, None))]
    assert not missing, f"runner has no function {missing}: move its pin to where the code went, or drop it"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_each_dataset_spec_is_the_pinned_one(name: str) -> None:
    now = spec_fingerprint(SPECS[name])
    assert name in SPEC_PINS, (f"dataset {name!r} has no pin: add SPEC_PINS[{name!r}] = {now!r} in {__file__}")
    assert now == SPEC_PINS[name], (
        f"the spec of dataset {name!r} changed (column kinds, levels, target, task, dropped columns or missing "
        f"markers), and a cell's key holds only the data file's sha256: the committed records of {name!r} were "
        f"computed with the old spec and would still count as current. Recompute them (delete results/{name}/ "
        f"and run `run-bench --datasets {name}` with the methods and settings its tables use), then set "
        f"SPEC_PINS[{name!r}] in {__file__} to {now!r}.")


def test_no_pin_outlives_its_dataset() -> None:
    gone = sorted(set(SPEC_PINS) - set(SPECS))
    assert not gone, f"SPEC_PINS names datasets that are no longer registered: {gone}; drop their pins"


def _documented():  # noqa: ANN202 - three versions of one function for the fingerprint's own test
    def fn(x):  # noqa: ANN001, ANN202
        """Doc."""
        return x + 1  # a comment

    return fn


def _reflowed():  # noqa: ANN202
    def fn(x):  # noqa: ANN001, ANN202
        return (x
                + 1)

    return fn


def _changed():  # noqa: ANN202
    def fn(x):  # noqa: ANN001, ANN202
        return x + 2

    return fn


def test_the_fingerprints_ignore_layout_and_docstrings_but_not_code() -> None:
    assert function_fingerprint(_documented()) == function_fingerprint(_reflowed())
    assert function_fingerprint(_documented()) != function_fingerprint(_changed())
    spec = SPECS["iris"]
    assert spec_fingerprint(dataclasses.replace(spec, title="another title", notes="x")) == spec_fingerprint(spec)
    assert spec_fingerprint(dataclasses.replace(spec, target="other")) != spec_fingerprint(spec)
    levels = dict(spec.categorical) | {"extra": ("a", "b")}
    assert spec_fingerprint(dataclasses.replace(spec, categorical=levels)) != spec_fingerprint(spec)
