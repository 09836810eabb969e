"""How much work each figure does: repetitions, steps per measurement, batch sizes."""

import dataclasses

# The paper's protocol and the CLI's training set-up (`tfp_rad.training.fit_steps`).
BATCH_SIZE = 500
TRAIN_POINTS = 10_000
LEARNING_RATE = 5e-3
PROTOCOL_STEPS = 50_000
LARGE_BATCH = 100_000


@dataclasses.dataclass(frozen=True)
class Settings:
    """Repetition counts and sizes of one benchmark run.

    Attributes:
      repeats: timed repetitions per figure and model (each figure is their median).
      eager_repeats: repetitions of the eager step (each one takes a few hundred ms).
      warmup: untimed calls after the first (compiling) call, before timing.
      steps_per_sample: training steps timed together as one repetition (tf.function and
        XLA steps), so the timer's resolution is irrelevant.
      fit_steps: steps per timed `model.fit` call (`steps_per_epoch`).
      fit_repeats: timed `model.fit` calls per model and `steps_per_execution`.
      fused_steps: steps fused in one XLA program for the floor (K).
      steps_per_execution: the `model.fit` settings compared.
    """

    repeats: int = 21
    eager_repeats: int = 7
    warmup: int = 2
    steps_per_sample: int = 10
    fit_steps: int = 500
    fit_repeats: int = 9
    fused_steps: int = 50
    steps_per_execution: tuple = (1, 50)

    @classmethod
    def full(cls, repeats=None):
        if repeats is None:
            return cls()
        return cls(
            repeats=repeats,
            eager_repeats=max(3, repeats // 3),
            fit_repeats=max(3, repeats // 2),
        )

    @classmethod
    def quick(cls, repeats=None):
        repeats = repeats or 3
        return cls(
            repeats=repeats,
            eager_repeats=2,
            warmup=1,
            steps_per_sample=5,
            fit_steps=100,
            fit_repeats=repeats,
            steps_per_execution=(50,),  # each setting costs a compile (~15 s for RAD)
        )

    @classmethod
    def sweep(cls, quick=False, repeats=None):
        """The dimension sweep's settings: fewer, shorter `fit` calls (steps cost up to
        tens of ms at 64-D); throughput figures with `repeats` repetitions."""
        if quick:
            return cls(repeats=repeats or 3, warmup=1, fit_steps=50, fit_repeats=2)
        return cls(repeats=repeats or 9, warmup=1, fit_steps=100, fit_repeats=5)


def dimension_study_arguments(prog, description, dimensions, repeats, argv=None):
    """Parses a per-dimension study's command line: `(args, argv)`.

    `args.dimensions` is the tuple of ints of `--dimensions` (comma-separated, default
    `dimensions`), `args.repeats` an int (default `repeats`); `argv` is the list parsed
    (`sys.argv[1:]` when None), for the results' command line.
    """
    import argparse
    import sys

    default = ",".join(map(str, dimensions))
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--dimensions", default=default,
                        help=f"comma-separated dimensions (default {default})")
    parser.add_argument("--repeats", type=int, default=repeats)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.dimensions = tuple(int(d) for d in args.dimensions.split(","))
    return args, argv
