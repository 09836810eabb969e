"""Reading XLA's HLO text: its computations and their instructions.

An HLO module prints one computation per block, its header at the start of a line
(`ENTRY %main (...) -> ... {` for the entry) and one instruction per indented line:

```none
  [ROOT ]%name = shape opcode(operands), attributes
```

where the shape is one array type (`f32[500,8]{1,0}`) or a tuple of them (multi-output
fusions, custom calls), whose comments (`/*index=5*/`) may hold '='.
"""

import re
from typing import NamedTuple

_INSTRUCTION = re.compile(r"\s+(?:ROOT )?%?([\w.\-]+) = (\(.*?\)|\S+) ([\w\-]+)\((.*)")
_HEADER = re.compile(r"(ENTRY )?%?([\w.\-]+) \(")


class Instruction(NamedTuple):
    """One instruction: its `name`, `shape` text, `opcode`, and the `rest` of its line
    (operands and attributes)."""

    name: str
    shape: str
    opcode: str
    rest: str


def instructions(text):
    """The `Instruction`s of the lines of `text` (a module or a computation), in order."""
    for line in text.splitlines():
        match = _INSTRUCTION.match(line)
        if match:
            yield Instruction(*match.groups())


def computations(hlo_text):
    """`{name: (is_entry, text)}`: each computation of a module, its header line first."""
    out = {}
    for text in re.split(r"\n(?=\S)", hlo_text):
        match = _HEADER.match(text)
        if match:
            out[match.group(2)] = (bool(match.group(1)), text)
    return out


def attribute(instruction, key):
    """The value of `key=...` (a name or a quoted string) in an instruction, or ''."""
    match = re.search(rf'\b{key}=(?:"([^"]*)"|%?([\w.\-]+))', instruction.rest)
    return (match.group(1) or match.group(2) or "") if match else ""
