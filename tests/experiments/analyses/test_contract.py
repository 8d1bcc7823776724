"""The analysis contract (`experiments.analyses.contract`), checked as each plug-in is
registered, and the registry the runner finds analyses in."""

import types

import pytest

from experiments import results
from experiments.analyses import contract, registry


def plugin(name: str = "fake", **members) -> types.ModuleType:
    """A module with every required member of an analysis, then `members` (None: left out)."""
    module = types.ModuleType(f"experiments.analyses.{name}")
    required = {
        "RESULTS": results.AttackResults,
        "default_settings": lambda: None,
        "check": lambda settings: None,
        "compute": lambda context, examples: {},
        "summarise": lambda results, context: {},
        "table": lambda results, context: [],
    }
    for key, value in {**required, **members}.items():
        if value is not None:
            setattr(module, key, value)
    return module


def test_every_registered_analysis_keeps_the_contract():
    # Analyses older than settings.json's record of the results type keep theirs; newer
    # ones need no entry in OF_ANALYSIS (their runs always record it).
    assert set(results.OF_ANALYSIS) < set(registry.names())
    for name in registry.names():
        module = registry.load(name)
        assert contract.check_module(module) is module is registry.load(name)
        assert results.TYPES[module.RESULTS.__name__] is module.RESULTS
        if name in results.OF_ANALYSIS:  # what runs before recorded it read
            assert module.RESULTS is results.OF_ANALYSIS[name]


def test_a_module_keeping_the_contract_is_registered_by_its_name():
    module = plugin("extra", KEY_STREAM=9, SUMMARY_SETTINGS=("a",), models=lambda s: {})
    assert registry.register(module) == {"extra": module}


@pytest.mark.parametrize(
    "members, problem",
    [
        ({"table": None}, "no table"),
        ({"RESULTS": None, "check": None}, "no RESULTS; no check"),
        ({"compute": lambda context: {}}, "compute is not a function of 2 arguments"),
        ({"KEY_STREAM": "3"}, "KEY_STREAM is not an integer >= 0"),
        ({"SUMMARY_SETTINGS": "attack_results"}, "SUMMARY_SETTINGS is not a tuple of setting"),
        ({"check_inputs": 1}, "check_inputs is not a function of (context)"),
        ({"RESULTS": dict}, "RESULTS is <class 'dict'>, not one of experiments.results.TYPES"),
        ({"PER_EPSILON": ("norm",)}, "PER_EPSILON ('norm',) differs from RESULTS.PER_EPSILON"),
    ],
)
def test_a_module_breaking_the_contract_is_refused_naming_it_and_what_it_lacks(members, problem):
    with pytest.raises(TypeError, match="experiments.analyses.fake is not an analysis module") as e:
        registry.register(plugin(**members))
    assert problem in str(e.value)


def test_an_unknown_analysis_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown analysis 'pgd'; expected one of \['boundary'"):
        registry.load("pgd")
