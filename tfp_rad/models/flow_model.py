"""`FlowModel`: the Keras surface shared by every density model of tfp_rad.

Keras owns every layer and variable; the `tfd.Distribution` is a cheap view rebuilt from
them on each use (TFP does not see Keras 3 variables, and Keras does not see inside TFP
objects).
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_rad import validation, whitening
from tfp_rad.models import defensive
from tfp_rad.philox_sampling import PhiloxMultivariateNormalDiag
from tfp_rad.rad_distribution import context_kwargs

tfb = tfp.bijectors
tfd = tfp.distributions


class FlowModel(keras.Model):
    """A Keras model whose output is `log p(x)` and whose training loss is the mean NLL.

    Subclasses build their layers in `__init__` (in the model's dtype, which defaults to
    `keras.config.floatx()` at construction) and implement `_make_distribution()`.

    - `model(x)` and `model.predict(x)` return `log p(x)`;
    - `fit(x)` minimizes `-mean log p(x)` (reported as `loss`), `evaluate(x)` returns it;
    - `distribution` is a `tfd.Distribution` with event shape `[event_size]`;
    - `log_prob(x)` and `sample(n, seed)` are shortcuts to it.

    With `standardize=True` the flow models standardized features: the model holds a
    non-trainable per-feature `mean` and `scale` (set from data by `adapt(x)`; 0 and 1
    until then), and its density is that of `x = mean + scale * u` with `u` drawn from the
    flow,

    ```none
    log p(x) = log p_flow((x - mean) / scale) - sum_j log scale_j
    ```

    (TFP's `TransformedDistribution` with `Chain([Shift(mean), Scale(scale)])`), so
    `log_prob` and `sample` are in the data's own units and the log-likelihood is
    comparable with any other density of the same data.

    With `whiten=True` (instead) the flow models whitened points: the model holds a
    non-trainable `mean` `[d]` and lower-triangular `L` `[d, d]` (the Cholesky factor of
    the covariance, set by `adapt(x)`, see `tfp_rad.whitening`; 0 and the identity until
    then), and its density is that of `x = mean + L u`,

    ```none
    log p(x) = log p_flow(L^{-1} (x - mean)) - sum_j log L_jj
    ```

    (`Chain([Shift(mean), ScaleMatvecTriL(L)])`). A flow at the identity is then the
    maximum-likelihood full-covariance Gaussian of the adapted data.

    With `defensive_weight=eps` (in (0, 1); None, the default, for none) the flow's
    density, before the standardization or whitening, is the defensive mixture
    `(1 - eps) p_flow(u) + eps N(u; 0, I)` (`tfp_rad.models.defensive`): with `whiten=True`
    no row's `log p(x)` is then more than `log(1/eps)` below the full-covariance
    Gaussian's.

    #### Conditional densities

    With `context_size = m > 0` the model is a conditional density `p(x | c)` of `x`
    given a context `c` of `m` numbers: `log_prob(x, context=c)` with `c` `[N, m]` (one
    per point) or `[m]` (one for all), `sample(n, context=c)` with `c` `[m]` (`n` draws
    for one context) or `[n, m]` (one draw per context), and `fit`, `evaluate` and the
    model's call on dicts `{"x": points, "context": contexts}` (numpy arrays, or a
    `tf.data.Dataset` of such dicts); the loss is the mean conditional NLL
    `-mean_i log p(x_i | c_i)`. A conditional model takes no `defensive_weight`. With `standardize=True` or `whiten=True`, `adapt(x,
    context)` standardizes the context as well (`(c - mean_c) / scale_c`, which the layers read; a change of
    the condition's units, not of the density's). The distribution's context is the
    standardized one: `distribution.log_prob(x, **context_kwargs(distribution, c'))`
    with `c' = flow_context(c)` equals `log_prob(x, context=c)`.
    """

    def __init__(self, event_size, num_layers, hidden_units, standardize=False, whiten=False,
                 defensive_weight=None, context_size=0, **kwargs):
        kwargs.setdefault("dtype", keras.config.floatx())
        super().__init__(**kwargs)
        self.event_size = validation.positive_int(event_size, "event_size")
        self.num_layers = validation.positive_int(num_layers, "num_layers")
        self.hidden_units = validation.positive_int(hidden_units, "hidden_units")
        if not isinstance(standardize, bool):
            raise ValueError(f"standardize must be True or False, got {standardize!r}.")
        if not isinstance(whiten, bool):
            raise ValueError(f"whiten must be True or False, got {whiten!r}.")
        if standardize and whiten:
            raise ValueError(
                "standardize=True and whiten=True are alternatives (whitening includes the "
                "standardization); choose one."
            )
        self.standardize = standardize
        self.whiten = whiten
        self.defensive_weight = defensive.check_weight(defensive_weight)
        self.context_size = validation.non_negative_int(context_size, "context_size")
        if self.context_size and self.defensive_weight is not None:
            raise ValueError(
                "defensive_weight applies to unconditional models only; a conditional model "
                "(context_size > 0) takes defensive_weight=None."
            )
        if (standardize or whiten) and self.context_size:
            self.context_mean = self.add_weight(
                shape=(self.context_size,), initializer="zeros", trainable=False,
                name="context_mean",
            )
            self.context_scale = self.add_weight(
                shape=(self.context_size,), initializer="ones", trainable=False,
                name="context_scale",
            )
        if whiten:
            self.whitening_mean = self.add_weight(
                shape=(self.event_size,), initializer="zeros", trainable=False,
                name="whitening_mean",
            )
            self.whitening_scale_tril = self.add_weight(
                shape=(self.event_size, self.event_size), initializer="identity",
                trainable=False, name="whitening_scale_tril",
            )
        if standardize:
            self.feature_mean = self.add_weight(
                shape=(self.event_size,), initializer="zeros", trainable=False,
                name="feature_mean",
            )
            self.feature_scale = self.add_weight(
                shape=(self.event_size,), initializer="ones", trainable=False,
                name="feature_scale",
            )

    def adapt(self, x, context=None, ridge=None):
        """Sets the standardization (or the whitening) from data, e.g. the training split.

        With `whiten=True`: the mean and the Cholesky factor of the covariance of `x`
        (`tfp_rad.whitening.fit(x, ridge)`, whose `ValueError`s it raises: a constant
        column, fewer rows than columns, collinear columns; `ridge=r` uses `C + r diag(C)`
        instead). With `standardize=True`:

        ```none
        mean_j = (1/n) sum_i x_ij,   scale_j = sqrt((1/n) sum_i (x_ij - mean_j)^2)
        ```

        computed in float64 and stored in the model's dtype. Call it on the training data
        before training (the flow then sees features of mean 0 and variance 1).

        Args:
          x: points `[n, event_size]` (checked like training data).
          context: a conditional model's contexts `[n, context_size]`, standardized the
            same way (required for a conditional model, refused otherwise).

        Raises:
          ValueError: if the model was built with neither option, for bad data, or if
            a feature is constant (its scale would be 0; the message names the feature's
            index, counted from 0); with `whiten=True` also for a singular covariance.
        """
        if not (self.whiten or self.standardize):
            raise ValueError(
                f"{self.name} was built with standardize=False and whiten=False: it has no "
                "standardization to adapt."
            )
        if ridge is not None and not self.whiten:
            raise ValueError("ridge applies to whiten=True only.")
        validation.check_context(context, self.context_size, np.float64, self.name)
        if self.whiten:
            x = validation.points_array(x, self.event_size, np.float64, "Whitening data")
            mean, scale_tril = whitening.fit(x, ridge)
            self.whitening_mean.assign(mean.astype(self.whitening_mean.dtype))
            self.whitening_scale_tril.assign(scale_tril.astype(self.whitening_scale_tril.dtype))
        else:
            x = validation.points_array(x, self.event_size, np.float64, "Standardization data")
            mean, scale = _mean_and_scale(x, "Feature", "it cannot be standardized; drop it")
            self.feature_mean.assign(mean.astype(self.feature_mean.dtype))
            self.feature_scale.assign(scale.astype(self.feature_scale.dtype))
        if self.context_size:
            context = validation.points_array(
                context, self.context_size, np.float64, "Standardization contexts")
            if len(context) != len(x):
                raise ValueError(
                    f"adapt got {len(x)} points but {len(context)} contexts; give one context "
                    "per point."
                )
            context_mean, context_scale = _mean_and_scale(
                context, "Context feature", "it carries no information; drop it")
            self.context_mean.assign(context_mean.astype(self.context_mean.dtype))
            self.context_scale.assign(context_scale.astype(self.context_scale.dtype))

    def _base_distribution(self):
        """The standard normal latent, `N(0, I_d)`, in the model's dtype, sampled with Philox."""
        return PhiloxMultivariateNormalDiag(loc=tf.zeros([self.event_size], self.compute_dtype))

    def _make_distribution(self):
        raise NotImplementedError

    @property
    def distribution(self):
        """The model's density as a `tfd.Distribution` (built from the model's layers).

        With `standardize=True`, the flow's distribution mapped by
        `x = mean + scale * u`: `tfd.TransformedDistribution(flow, Chain([Shift(mean),
        Scale(scale)]))`, whose `log_prob` includes the `-sum_j log scale_j` Jacobian term;
        with `whiten=True`, mapped by `x = mean + L u` (`Chain([Shift(mean),
        ScaleMatvecTriL(L)])`, Jacobian term `-sum_j log L_jj`). With a
        `defensive_weight`, the flow's distribution is first mixed with the standard normal
        (`defensive.defensive_mixture`).
        """
        flow = self._make_distribution()
        if self.defensive_weight is not None:
            flow = defensive.defensive_mixture(
                flow, self._base_distribution(), self.defensive_weight)
        to_data = self._to_data()
        if to_data is None:
            return flow
        return tfd.TransformedDistribution(flow, to_data)

    def flow_context(self, context):
        """The context as the layers read it: checked, cast, standardized if the model is.

        Returns None for an unconditional model given no context.

        Raises:
          ValueError: for a missing context (conditional model), a context given to an
            unconditional model, the wrong size, a scalar, or NaN/inf values.
        """
        context = validation.check_context(
            context, self.context_size, self.compute_dtype, self.name)
        if context is None or not (self.standardize or self.whiten):
            return context
        return (context - self.context_mean) / self.context_scale

    def _to_data(self):
        """The affine bijector from the flow's points to the data's (None without one).

        Whitening: `Chain([Shift(mean), ScaleMatvecTriL(L)])`, standardization:
        `Chain([Shift(mean), Scale(scale)])`; both apply the scale first.
        """
        if self.whiten:
            return tfb.Chain([
                tfb.Shift(tf.convert_to_tensor(self.whitening_mean)),
                tfb.ScaleMatvecTriL(tf.convert_to_tensor(self.whitening_scale_tril)),
            ])
        if self.standardize:
            return tfb.Chain([
                tfb.Shift(tf.convert_to_tensor(self.feature_mean)),
                tfb.Scale(tf.convert_to_tensor(self.feature_scale)),
            ])
        return None

    def _flow_points(self, x):
        """Points as the flow's layers see them: `L^{-1} (x - mean)` with `whiten=True`,
        `(x - mean) / scale` with `standardize=True`, else `x`."""
        x = self._as_points(x)
        to_data = self._to_data()
        return x if to_data is None else to_data.inverse(x)

    def _as_points(self, x):
        x = tf.convert_to_tensor(x)
        if not (x.dtype.is_floating or x.dtype.is_integer):
            raise ValueError(f"Points must be real numbers; got dtype {x.dtype.name}.")
        validation.check_event_size(x, self.event_size, f"Input of {self.name}")
        return tf.cast(x, self.compute_dtype)

    def call(self, inputs):
        """`log p(x)` of points `inputs`, or `log p(x | c)` of `{"x": x, "context": c}`."""
        x, context = self._unpack(inputs)
        x = self._as_points(x)
        distribution = self.distribution
        log_prob = distribution.log_prob(
            x, **context_kwargs(distribution, self.flow_context(context)))
        # A point with an infinite coordinate has density 0; the layers would make it NaN.
        at_infinity = tf.reduce_any(tf.math.is_inf(x), axis=-1)
        return tf.where(at_infinity, tf.constant(-np.inf, log_prob.dtype), log_prob)

    def _unpack(self, inputs):
        """`(x, context)` from points, or from a dict `{"x": ..., "context": ...}`."""
        if not isinstance(inputs, dict):
            return inputs, None
        unknown = sorted(set(inputs) - {"x", "context"})
        if unknown or "x" not in inputs:
            raise ValueError(
                f"{self.name} takes points, or a dict with the keys 'x' and 'context'; got "
                f"the keys {sorted(inputs)}."
            )
        return inputs["x"], inputs.get("context")

    def log_prob(self, x, context=None):
        """`log p(x)` for points `[..., event_size]`; returns `[...]`.

        Integer points are cast to the model's dtype; other non-float dtypes (bool,
        complex, strings) raise `ValueError`. A point with an infinite coordinate gets
        `-inf`, as does a point so far out that `log p` underflows the dtype; any other
        point with a NaN coordinate gets NaN.

        A conditional model (`context_size = m > 0`) gives `log p(x | c)` and needs
        `context`, `[..., m]`, broadcast against the points' batch: `[N, m]` for points
        `[N, d]`, or `[m]` for one context for all.

        Raises:
          ValueError: for bad points, or a missing, misshapen or non-finite context (or
            one given to an unconditional model).
        """
        if context is None:
            return self(x)
        # Checked here too: Keras's call refuses Python numbers inside a dict of inputs.
        context = validation.check_context(
            context, self.context_size, self.compute_dtype, self.name)
        return self({"x": self._as_points(x), "context": context})

    def sample(self, n, seed=None, context=None):
        """Draws `n` exact samples `[n, event_size]`.

        Args:
          n: positive int.
          seed: an int or a stateless seed pair (the same seed gives the same samples), or
            None for fresh randomness.
          context: a conditional model's context: `[m]` (`n` draws given it) or `[n, m]`
            (draw `i` given row `i`).

        Raises:
          ValueError: for a bad `n`, or a missing, misshapen or non-finite context (or
            one given to an unconditional model).
        """
        n = validation.positive_int(n, "n")
        if isinstance(seed, int):
            seed = tf.constant([0, seed], tf.int32)  # stateless: reproducible
        context = self.flow_context(context)
        if context is not None and (
            context.shape.rank not in (1, 2) or context.shape.rank == 2 and context.shape[0] != n
        ):
            raise ValueError(
                f"{self.name}.sample(n={n}) takes one context [{self.context_size}] or one per "
                f"draw, [{n}, {self.context_size}]; got shape {tuple(context.shape)}."
            )
        distribution = self.distribution
        return distribution.sample(n, seed=seed, **context_kwargs(distribution, context))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Mean negative log-likelihood of the batch (`y_pred` is `log p(x)`).

        Divided by the number of replicas under a `tf.distribute` strategy, whose optimizer
        sums the replicas' gradients.
        """
        nll = -y_pred
        if sample_weight is None:
            loss = tf.reduce_mean(nll)
        else:
            weight = tf.cast(tf.reshape(sample_weight, tf.shape(nll)), nll.dtype)
            loss = tf.reduce_sum(weight * nll) / tf.reduce_sum(weight)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return loss / tf.cast(replicas, loss.dtype) if replicas > 1 else loss

    def train_step(self, data):
        """Keras's training step; under a multi-worker strategy its logs get an axis of 1.

        Keras 3 averages each log of a step across the workers of a
        `MultiWorkerMirroredStrategy` with `strategy.reduce("MEAN", value, axis=0)`, which
        fails on the scalar loss ("Invalid reduction dimension 0 for input with 0
        dimensions", tensorflow/tensorflow#72388). Shaped `[1]`, every log reduces to the
        same scalar average.
        """
        return _with_worker_axis(super().train_step(data))

    def test_step(self, data):
        """Keras's evaluation step, with the logs shaped as in `train_step`."""
        return _with_worker_axis(super().test_step(data))

    def compile(self, optimizer="adam", jit_compile=None, **kwargs):
        """`keras.Model.compile`, with XLA on by default (faster for these small networks).

        `jit_compile=None` means True, except under a `tf.distribute` strategy, where Keras
        cannot place XLA-compiled variables across replicas (then False).
        """
        if jit_compile is None:
            jit_compile = not tf.distribute.has_strategy()
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)

    def make_train_function(self, force=False):
        """Keras's training function, with `steps_per_execution` steps fused under XLA.

        Keras runs each of the `steps_per_execution` steps of an execution as its own call
        of the XLA-compiled step, and for models this small the fixed cost of a call
        (argument and variable handling) is as large as the step's arithmetic. With XLA on,
        more than one step per execution and no `tf.distribute` strategy, this function
        instead fetches the execution's batches and runs all of its steps in one XLA
        program (a `tf.while_loop` over Keras's own `train_step`): the same steps, in the
        same order, with the same callbacks and logs per execution. Otherwise it is
        Keras's own.
        """
        if self.train_function is not None and not force:
            return self.train_function
        super().make_train_function(force=force)
        fusable = (
            self.steps_per_execution > 1
            and self.jit_compile
            and not self.run_eagerly
            and not tf.distribute.has_strategy()
        )
        if fusable:
            self.train_function = self._fused_train_function(self.train_function)
        return self.train_function

    def _fused_train_function(self, keras_train_function):
        """`function(iterator) -> logs` running up to `steps_per_execution` steps at once.

        The batches are stacked into one `[K, ...]` buffer, zero-padded to
        `K = steps_per_execution` so that the program compiles once per batch shape, and
        the number of real ones is passed as a tensor. When the dataset's batches have a
        static shape the fetch and the stacking are one graph call; otherwise the batches
        are fetched one by one and consecutive batches of equal shape run together (an
        epoch's short last batch starts a new run).
        """
        steps = self.steps_per_execution

        def run_steps(batches, count):
            def body(i, logs):
                del logs
                return i + 1, self.train_step(tf.nest.map_structure(lambda b: b[i], batches))

            _, logs = tf.while_loop(
                lambda i, _: i < count, body, (tf.constant(0), self.get_metrics_result())
            )
            return logs

        run_steps = tf.function(run_steps, jit_compile=True, reduce_retracing=True)

        def padded(group, missing):
            return tf.nest.map_structure(
                lambda *b: tf.concat(
                    [tf.stack(b), tf.zeros(tf.concat([[missing], tf.shape(b[0])], 0), b[0].dtype)],
                    axis=0,
                ),
                *group,
            )

        @tf.function
        def next_optionals(iterator):
            return [iterator.get_next_as_optional() for _ in range(steps)]

        @tf.function
        def next_padded_batches(iterator):
            """The next `steps` batches of static shape, zero-padded, and how many are real."""
            spec = iterator.element_spec
            batches, count = [], tf.constant(0)
            for optional in next_optionals(iterator):
                present = optional.has_value()
                batches.append(tf.cond(
                    present,
                    optional.get_value,
                    lambda: tf.nest.map_structure(lambda s: tf.zeros(s.shape, s.dtype), spec),
                ))
                count += tf.cast(present, tf.int32)
            return tf.nest.map_structure(lambda *b: tf.stack(b), *batches), count

        def function(iterator):
            if not isinstance(iterator, tf.data.Iterator):
                return keras_train_function(iterator)
            if all(s.shape.is_fully_defined() for s in tf.nest.flatten(iterator.element_spec)):
                batches, count = next_padded_batches(iterator)
                if count == 0:
                    raise StopIteration
                return run_steps(batches, count)
            batches = [o.get_value() for o in next_optionals(iterator) if o.has_value()]
            if not batches:
                raise StopIteration
            for group in _runs_of_equal_shapes(batches):
                logs = run_steps(padded(group, steps - len(group)), tf.constant(len(group)))
            return logs

        return function

    def compile_from_config(self, config):
        """Compiles a loaded model as it was saved, so its optimizer state loads too.

        Keras skips this step (with a warning) for models that override `compile`; then a
        loaded model would come back uncompiled and without its optimizer's state.
        """
        self.compile(**keras.saving.deserialize_keras_object(config))
        self.optimizer.build(self.trainable_variables)

    def _checked(self, x, what):
        """Points (or a dict of points and contexts) checked and cast; datasets unchanged."""
        if isinstance(x, dict):
            points, context = self._unpack(x)
            if validation.is_array_like(points) and validation.is_array_like(context):
                points = validation.points_array(points, self.event_size, self.compute_dtype,
                                                 what)
                if not self.context_size:
                    validation.check_context(context, 0, self.compute_dtype, self.name)
                context = validation.points_array(
                    context, self.context_size, self.compute_dtype, f"The contexts of {what}")
                if len(context) != len(points):
                    raise ValueError(
                        f"{what} has {len(points)} points but {len(context)} contexts; give "
                        "one context per point."
                    )
                return {"x": points, "context": context}
            return x
        if validation.is_array_like(x):
            if self.context_size:
                raise ValueError(
                    f"{self.name} is conditional (context_size={self.context_size}): {what} "
                    "must be a dict {'x': points, 'context': contexts}."
                )
            return validation.points_array(x, self.event_size, self.compute_dtype, what)
        return x

    def fit(self, x=None, *args, **kwargs):
        """`keras.Model.fit` on points `x` `[n, event_size]`, checked before any step runs.

        Numpy arrays and eager tensors are checked (rank, event size, empty, NaN/inf) and cast
        to the model's dtype; `tf.data` datasets pass through unchecked. A conditional model
        takes a dict `{"x": points, "context": contexts}` (`[n, m]`, checked the same way).
        """
        x = self._checked(x, "Training data")
        validation_data = kwargs.get("validation_data")
        if validation_data is not None and (
            validation.is_array_like(validation_data) or isinstance(validation_data, dict)
        ):
            kwargs["validation_data"] = (self._checked(validation_data, "Validation data"),)
        return super().fit(x, *args, **kwargs)

    def evaluate(self, x=None, *args, **kwargs):
        """`keras.Model.evaluate`: the mean negative log-likelihood of `x`."""
        return super().evaluate(self._checked(x, "Evaluation data"), *args, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update(
            event_size=self.event_size,
            num_layers=self.num_layers,
            hidden_units=self.hidden_units,
            standardize=self.standardize,
            whiten=self.whiten,
            defensive_weight=self.defensive_weight,
            context_size=self.context_size,
        )
        return config


def _mean_and_scale(x, noun, advice):
    """Column means and standard deviations of `x`, refusing a constant column."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    whitening.refuse_constant_columns(x, scale, noun, "standardization data", advice)
    return mean, scale


def _with_worker_axis(logs):
    """`logs` with each scalar reshaped to `[1]` under a multi-worker strategy, else as is."""
    strategy = tf.distribute.get_strategy()
    multi_worker = (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
                    and strategy.extended._in_multi_worker_mode())
    if not multi_worker:
        return logs
    return tf.nest.map_structure(
        lambda v: tf.reshape(v, [1]) if tf.is_tensor(v) and v.shape.rank == 0 else v, logs)


def _runs_of_equal_shapes(batches):
    """Splits a list of batches (nested structures of tensors) into runs of equal shapes."""
    runs = []
    for batch in batches:
        shapes = [t.shape for t in tf.nest.flatten(batch)]
        if runs and shapes == runs[-1][0]:
            runs[-1][1].append(batch)
        else:
            runs.append((shapes, [batch]))
    return [group for _, group in runs]


def alternating_masks(event_size, num_layers):
    """Coupling masks that alternate halves: True marks the elements a layer transforms.

    Layer `i` transforms the last `d - d // 2` elements when `i` is even, the first
    `d - d // 2` when odd, so two consecutive layers touch every element.
    """
    split = event_size // 2
    masks = []
    for i in range(num_layers):
        mask = np.arange(event_size) >= split
        masks.append(mask if i % 2 == 0 else mask[::-1])
    return [m.tolist() for m in masks]
