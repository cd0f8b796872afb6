"""One registry design for methods, datasets and mechanisms (issue 9, item 11): explicit, order-independent."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from vaeac_bench.registry import Registry

# a fresh interpreter: a plugin registers before anything looked a name up (the order that hid built-ins)
_PLUGIN_FIRST = textwrap.dedent("""
    import sys
    from vaeac_bench.methods import MethodSpec, register
    register(MethodSpec("custom", "vaeac_bench.methods.simple:MeanModeImputer", label="Custom"))
    from vaeac_bench.datasets import register_dataset, register_mechanism, DatasetSpec
    register_dataset(DatasetSpec("custom-data", "Custom", target="y", task="regression", path="custom.csv.gz"))
    register_mechanism("custom-mech")(lambda data, rate, rng: rng.random(data.shape) < rate)

    from vaeac_bench.methods import REGISTRY, build, resolve
    from vaeac_bench.datasets import MECHANISMS, SPECS, get_spec, resolve as resolve_data
    from vaeac_bench.datasets.masks import get_mechanism
    methods = resolve("all")
    assert {"mean", "mice", "missforest", "vaeac", "gsnn", "nn", "gain", "um", "um-naive", "custom"} <= set(methods)
    assert resolve("paper") == ["mean", "mice", "missforest", "gain", "vaeac", "gsnn", "nn"]
    assert len(resolve_data("uci")) == 14 and get_spec("custom-data").name == "custom-data"
    assert {"mcar", "custom-mech"} <= set(MECHANISMS) and get_mechanism("mcar")
    build("custom").fit  # a plugin builds like a built-in
    build("mean")
    assert "torch" not in sys.modules and "miceforest" not in sys.modules, "registering imported a heavy module"
    print(len(REGISTRY), len(SPECS), len(MECHANISMS))
""")


def test_registering_a_plugin_first_keeps_every_built_in():
    run = subprocess.run([sys.executable, "-c", _PLUGIN_FIRST], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    n_methods, n_datasets, n_mechanisms = map(int, run.stdout.split())
    from vaeac_bench.datasets import MECHANISMS, SPECS
    from vaeac_bench.methods import REGISTRY

    # the plugin's entry comes on top of exactly the built-ins this process sees
    assert (n_methods, n_datasets, n_mechanisms) == (len(REGISTRY) + 1, len(SPECS) + 1, len(MECHANISMS) + 1)


def test_duplicate_and_malformed_names_are_refused():
    from vaeac_bench.datasets import SPECS, register_dataset, register_mechanism
    from vaeac_bench.methods import MethodSpec, register

    with pytest.raises(ValueError, match="method 'mean' is registered twice"):
        register(MethodSpec("mean", "vaeac_bench.methods.simple:MeanModeImputer"))
    with pytest.raises(ValueError, match="dataset 'iris' is registered twice"):
        register_dataset(SPECS["iris"])
    with pytest.raises(ValueError, match="mechanism 'mcar' is registered twice"):
        register_mechanism("mcar")(lambda data, rate, rng: data)
    with pytest.raises(ValueError, match="registered twice"):  # a group name is taken too
        register(MethodSpec("paper", "vaeac_bench.methods.simple:MeanModeImputer"))
    with pytest.raises(ValueError, match="lower-case"):
        register(MethodSpec("Mine", "vaeac_bench.methods.simple:MeanModeImputer"))
    with pytest.raises(ValueError, match="package.module:Class"):
        register(MethodSpec("mine", "vaeac_bench.methods.simple.MeanModeImputer"))


def test_registry_lookup_groups_and_errors():
    reg: Registry[int] = Registry("thing", allow_all=True)
    reg.register("a", 1)
    reg.register("b", 2)
    reg.register_group("both", ("b", "a"))
    assert reg.get(" A ") == 1 and reg["b"] == 2 and list(reg) == ["a", "b"]
    assert reg.resolve("both,a") == ["b", "a"] and reg.resolve("all") == ["a", "b"]
    with pytest.raises(ValueError, match=r"unknown thing 'c'; known things: a, b; groups: both"):
        reg.resolve("a,c")
    with pytest.raises(ValueError, match="unknown thing"):
        reg.register_group("bad", ("a", "zzz"))
    with pytest.raises(ValueError, match="no thing given"):
        reg.resolve(" , ")
    assert reg.unregister("a") == 1 and "a" not in reg
    with pytest.raises(TypeError):
        reg["c"] = 3  # read-only mapping: change it through register()
