"""Hand-written training steps (eager, `tf.function`, XLA) and the fused-steps floor.

A step is forward (mean negative log-likelihood), backward (`tf.GradientTape`) and the
Adam update (`model.optimizer.apply_gradients`, with the optimizer built beforehand).
The floor runs K such steps inside one XLA program (a `tf.while_loop` over K batches
sliced from one tensor), which removes the per-call cost (dispatch, argument and
variable handling) that every separately called step pays.
"""

import itertools

import tensorflow as tf


def nll(model, x):
    """Mean negative log-likelihood of a batch: the training loss of `FlowModel.fit`."""
    return -tf.reduce_mean(model(x))


def forward_backward_fn(model, x):
    """`() -> gradients` of the mean NLL of batch `x` for every trainable variable of
    `model`: a step without the optimizer's update (plain Python: eager unless wrapped)."""
    variables = model.trainable_variables

    def forward_backward():
        with tf.GradientTape() as tape:
            loss = nll(model, x)
        return tape.gradient(loss, variables, unconnected_gradients="zero")

    return forward_backward


def train_step_fn(model):
    """`step(x) -> loss`: one Adam step on batch `x` (plain Python: eager unless wrapped)."""
    variables = model.trainable_variables

    def step(x):
        with tf.GradientTape() as tape:
            loss = nll(model, x)
        gradients = tape.gradient(loss, variables)
        model.optimizer.apply_gradients(zip(gradients, variables))
        return loss

    return step


def compiled_step(model, mode):
    """The training step as `mode` in {"eager", "tf.function", "xla"}."""
    step = train_step_fn(model)
    if mode == "eager":
        return step
    return tf.function(step, jit_compile=(mode == "xla"))


def fused_steps_fn(model):
    """`run(batches[K, B, d]) -> last loss`: K steps in one XLA program (the floor)."""
    step = train_step_fn(model)

    @tf.function(jit_compile=True)
    def run(batches):
        num_steps = tf.shape(batches)[0]

        def body(i, loss):
            del loss
            return i + 1, step(batches[i])

        _, loss = tf.while_loop(
            lambda i, _: i < num_steps,
            body,
            (tf.constant(0), tf.constant(0.0, batches.dtype)),
        )
        return loss

    return run


def cycling(fn, arguments):
    """A no-argument callable that calls `fn` on `arguments` in turn, cyclically."""
    iterator = itertools.cycle(arguments)
    return lambda: fn(next(iterator))
