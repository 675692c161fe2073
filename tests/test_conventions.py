"""Conventions as validated str enums: a bad value fails when the value is made, with the valid
values and a did-you-mean; strings are accepted and rendered exactly as before."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import pytest

import archcalc
from archcalc.cli import main
from archcalc.conventions import (
    PARSERS,
    PRESETS,
    AffineMacs,
    BiasMacs,
    CheapOp,
    Conventions,
    DType,
    Family,
    Optimizer,
    Preset,
    resolve,
)
from tests.test_cli import run

BAD: list[tuple[dict[str, Any], str]] = [
    ({"bias_macs": "per_parm"}, r"bias_macs must be one of none, per_param, per_output, got 'per_parm' "
                                r"\(did you mean 'per_param'\?\)"),
    ({"affine_macs": "per_output"}, "affine_macs must be one of none, per_param"),
    ({"dtype": "fp8"}, "dtype must be one of fp64, fp32, fp16, bf16, int8"),
    ({"optimizer": "adamw"}, r"optimizer must be one of sgd, momentum, adam, got 'adamw' \(did you mean 'adam'\?\)"),
    ({"pooling_connections": "windows"}, r"did you mean 'window'"),
    ({"rf_merge": "warning"}, r"rf_merge must be one of warn, error"),
    ({"preset": "torchinf"}, r"(?=.*'torchinf')(?=.*did you mean 'torchinfo')(?=.*default, course, lecun1998)"),
    ({"unit_families": frozenset({"conv", "fcc"})}, r"unit_families: unknown item 'fcc' \(did you mean 'fc'\?\)"),
    ({"cheap_ops": frozenset({"bais"})}, r"cheap_ops: unknown item 'bais' \(did you mean 'bias'\?\)"),
    ({"batch": 0}, "batch must be a positive integer"),
    ({"flops_per_mac": "two"}, "flops_per_mac must be a positive integer"),
    ({"inplace": "maybe"}, "inplace must be true or false"),
]


@pytest.mark.parametrize(("changes", "message"), BAD, ids=[next(iter(c)) for c, _ in BAD])
def test_a_bad_value_fails_when_made(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(archcalc.ConventionError, match=message):
        Conventions(**changes)
    with pytest.raises(archcalc.ConventionError, match=message):
        Conventions().replace(**changes)
    with pytest.raises(archcalc.ConventionError, match=message):
        resolve(None, changes)


def test_strings_become_enums_and_render_as_before() -> None:
    conv = Conventions(bias_macs="per_param", dtype="fp16", optimizer="sgd", cheap_ops=frozenset({"bias", "batchnorm"}),
                       unit_families=frozenset({"conv"}), batch="4", inplace="yes")
    assert conv.bias_macs is BiasMacs.PER_PARAM and conv.dtype is DType.FP16 and conv.optimizer is Optimizer.SGD
    assert conv.cheap_ops == {CheapOp.BIAS, "batchnorm"} and conv.unit_families == {Family.CONV}
    assert conv.batch == 4 and conv.inplace is True and conv.dtype_bytes == 2
    assert conv == Conventions(bias_macs=BiasMacs.PER_PARAM, dtype=DType.FP16, optimizer=Optimizer.SGD,
                               cheap_ops=frozenset({CheapOp.BIAS, "batchnorm"}), unit_families=frozenset({Family.CONV}),
                               batch=4, inplace=True)
    data = conv.to_dict()
    assert all(type(v) in (str, bool, int, list) for v in data.values())
    assert data["bias_macs"] == "per_param" and data["cheap_ops"] == ["batchnorm", "bias"]
    assert json.loads(json.dumps(data)) == data
    assert "bias MACs per_param" in conv.describe() and "fp16, batch 4" in conv.describe()
    assert Conventions(affine_macs=AffineMacs.PER_PARAM).affine_macs == "per_param"


def test_every_option_value_is_an_enum_and_every_preset_is_named() -> None:
    assert set(Preset) == set(PRESETS)
    assert set(PARSERS) == {f for f in Conventions.__dataclass_fields__}
    conv = archcalc.preset("torchinfo")
    for name in PARSERS:
        value = getattr(conv, name)
        assert isinstance(value, (bool, int, frozenset, StrEnum)), name
    assert all(isinstance(v, StrEnum) for v in conv.unit_families)


def test_set_and_spec_conventions_are_validated(tmp_path: Any) -> None:
    code, _, err = run("report", "lenet5", "--set", "bias_macs=per_parm")
    assert code == 2 and "did you mean 'per_param'" in err and "none, per_param, per_output" in err
    code, _, err = run("report", "lenet5", "--set", "bias_mac=none")
    assert code == 2 and "unknown convention 'bias_mac' (did you mean 'bias_macs'?)" in err
    spec = tmp_path / "s.yaml"
    spec.write_text("input: [3, 8, 8]\nconventions: {dtype: fp17}\nlayers: [relu]\n")
    code, _, err = run("report", str(spec))
    assert code == 2 and "dtype must be one of" in err and "(did you mean 'fp16'?)" in err


def test_unknown_names_are_errors_with_did_you_mean() -> None:
    with pytest.raises(archcalc.ConventionError, match=r"unknown convention 'bias_mac' \(did you mean 'bias_macs'\?\)"):
        Conventions(bias_mac="none")  # type: ignore[call-arg]
    with pytest.raises(archcalc.ConventionError, match=r"unknown convention 'dtpye' \(did you mean 'dtype'\?\)"):
        Conventions().replace(dtpye="fp16")
    with pytest.raises(archcalc.ConventionError, match=r"unknown convention 'bacth' \(did you mean 'batch'\?\)"):
        resolve("default", {"bacth": 2})


def test_conventions_survive_pickling_for_worker_processes() -> None:
    import pickle

    conv = archcalc.preset("fvcore").replace(batch=8, dtype="bf16")
    again = pickle.loads(pickle.dumps(conv))
    assert again == conv and again.dtype is DType.BF16 and again.describe() == conv.describe()


def test_value_tables_match_the_enums(capsys: pytest.CaptureFixture[str]) -> None:
    from archcalc import conventions as c

    assert list(c.DTYPE_BYTES) == [m.value for m in DType] and list(c.OPTIMIZER_STATE) == [m.value for m in Optimizer]
    assert [*c.FAMILIES, *c.CHEAP_OPS] == [*Family, *CheapOp]
    for table in (c.DTYPE_BYTES, c.OPTIMIZER_STATE, c.FAMILIES, c.CHEAP_OPS, c.BIAS_MACS, c.RF_MERGE):
        assert all(type(v) is str for v in table)  # plain strings: argparse shows choices with repr()
    with pytest.raises(SystemExit) as exit_:
        main(["report", "lenet5", "--dtype", "fp8"])
    assert exit_.value.code == 2 and "choose from 'fp64', 'fp32', 'fp16', 'bf16', 'int8'" in capsys.readouterr().err
