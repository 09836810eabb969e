"""`benchmarks.hlo_text`: computations, instructions and attributes of an HLO module."""

from benchmarks import hlo_text

MODULE = """HloModule jit_program, entry_computation_layout={(f32[4,8]{1,0})->f32[4]{0}}

%fused_exp (param_0: f32[4,8]) -> f32[4,8] {
  %param_0 = f32[4,8]{1,0} parameter(0)
  ROOT %exponential = f32[4,8]{1,0} exponential(%param_0)
}

ENTRY %main (p: f32[4,8]) -> f32[4] {
  %p = f32[4,8]{1,0} parameter(0)
  %two = (f32[4,8]{1,0}, f32[4,8]{1,0}, f32[4,8]{1,0}, f32[4,8]{1,0}, f32[4,8]{1,0}, /*index=5*/f32[4,8]{1,0}) custom-call(%p), custom_call_target="six"
  ROOT %fusion.1 = f32[4]{0} fusion(%p), kind=kLoop, calls=%fused_exp, metadata={op_name="rad/fold/exp"}
}
"""


def test_the_module_reads_as_computations_of_instructions():
    computations = hlo_text.computations(MODULE)
    assert {name: entry for name, (entry, _) in computations.items()} == {
        "fused_exp": False, "main": True}
    entry = [(i.name, i.opcode) for i in hlo_text.instructions(computations["main"][1])]
    assert entry == [("p", "parameter"), ("two", "custom-call"), ("fusion.1", "fusion")]
    six = list(hlo_text.instructions(MODULE))[3]
    assert six.shape.count("f32[4,8]") == 6  # a tuple whose comment holds '='
    root = list(hlo_text.instructions(computations["main"][1]))[-1]
    assert hlo_text.attribute(root, "calls") == "fused_exp"
    assert hlo_text.attribute(root, "op_name") == "rad/fold/exp"
    assert hlo_text.attribute(six, "custom_call_target") == "six"
    assert hlo_text.attribute(root, "missing") == ""
