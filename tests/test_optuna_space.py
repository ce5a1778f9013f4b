"""The old hydra-optuna-sweeper's search-space syntax gives the same Optuna distributions."""

from __future__ import annotations

import pytest

D = pytest.importorskip(
    "optuna.distributions", reason="needs the sweeps extra: pip install -e '.[sweeps]'"
)

from hydra_plugins.biaslab_sweepers.optuna_sweeper import _hydra_value, search_space  # noqa: E402


def test_search_space_syntax_maps_to_optuna_distributions():
    params = {
        "optimizer.lr": "tag(log, interval(0.0005, 0.01))",
        "optimizer.weight_decay": "interval(0.0, 0.1)",
        "data.batch_size": "choice(32, 64, 128)",
        "model.backbone.depth": "range(1, 9, 2)",
        "model": "cnn,vit",
        "trainer.max_epochs": "interval(2, 8)",
    }
    space, fixed = search_space(params, ["seed=3", "pooling=choice(mean,max)"])
    assert space["optimizer.lr"] == D.FloatDistribution(0.0005, 0.01, log=True)
    assert space["optimizer.weight_decay"] == D.FloatDistribution(0.0, 0.1)
    assert space["data.batch_size"] == D.CategoricalDistribution([32, 64, 128])
    assert space["model.backbone.depth"] == D.IntDistribution(1, 7, step=2)
    assert space["model"] == D.CategoricalDistribution(["cnn", "vit"])
    assert space["trainer.max_epochs"] == D.FloatDistribution(
        2.0, 8.0
    )  # Hydra parses interval() as floats
    assert space["pooling"] == D.CategoricalDistribution(["mean", "max"])  # the command line too
    assert fixed == ["seed=3"]


def test_command_line_wins_over_params_and_values_render_as_overrides():
    space, _ = search_space({"data.batch_size": "choice(32, 64)"}, ["data.batch_size=choice(16)"])
    assert space["data.batch_size"] == D.CategoricalDistribution([16])
    assert _hydra_value({"s": "sqlite:///a b'c", "n": 3, "p": None, "l": [1, "x"]}) == (
        "{s:'sqlite:///a b\\'c',n:3,p:null,l:[1,'x']}"
    )
