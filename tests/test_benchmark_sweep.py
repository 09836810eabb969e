"""`benchmarks.sweep`'s models: parameter counts matched as its docstring says."""

import pytest

from benchmarks import subjects, sweep
from tfp_rad.models import RADFlow


@pytest.mark.parametrize("event_size, width, num_layers", [(2, 16, 6), (16, 24, 4), (7, 5, 3)])
def test_rad_parameters_is_radflows_count(event_size, width, num_layers):
    model = RADFlow(event_size, num_layers, width)
    assert sweep.rad_parameters(event_size, width, num_layers) == subjects.num_parameters(model)


@pytest.mark.parametrize("event_size", [16, 64])
def test_a_shallower_rad_keeps_the_count_and_real_nvp_is_unchanged(event_size):
    reference = sweep.make_models(event_size)
    shallow = sweep.make_models(event_size, rad_layers=4)
    rad_count = subjects.num_parameters(reference[sweep.RAD])
    assert shallow[sweep.RAD].num_layers == 4
    assert subjects.num_parameters(shallow[sweep.RAD]) == pytest.approx(rad_count, rel=0.03)
    assert shallow[sweep.REAL_NVP].hidden_units == reference[sweep.REAL_NVP].hidden_units
