"""The five seed notebooks, cell by cell, with only their imports changed (tests/seeds/ lists the cells).

On NumPy every cell runs and prints what the notebook printed. The cells whose NumPy the Array API
standard covers also run on every other backend through ``from xpnet import np`` (array_api_strict's
second device stands in for an accelerator); CuPy, a NumPy work-alike, runs them all where a GPU is.
"""

import importlib

import pytest
import seeds

import xpnet

SEEDS = ["seed000", "seed001", "seed002", "seed003", "seed004"]


def cells_of(name: str) -> list:
    """The notebook's cells, less those whose data set is not installed here (the rest still runs)."""
    cells = importlib.import_module(f"seeds.{name}").CELLS
    return [c for c in cells if not c.data or xpnet.datasets.find_dataset(c.data) is not None]


@pytest.mark.parametrize("name", SEEDS)
def test_seed_on_numpy_prints_what_the_notebook_printed(name):
    seeds.run(cells_of(name))


@pytest.mark.parametrize("name", SEEDS)
def test_seed_on_every_backend(backend64, name):
    """The standard part everywhere; CuPy runs the whole notebook."""
    if backend64.name == "numpy":
        pytest.skip("the NumPy run above")
    seeds.run(cells_of(name), standard_only=backend64.name != "cupy", compare=False)
    assert xpnet.get_backend() == backend64.name


def test_edits_are_declared_with_a_reason():
    for name in SEEDS:
        for cell in importlib.import_module(f"seeds.{name}").CELLS:
            for old, new, why in cell.edits:
                assert old in cell.source and old != new and why, (name, cell.label)
