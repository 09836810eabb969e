// The fold's and the gating's forward, each one loop over the folded elements, as XLA:CPU
// custom calls: the lever "one kernel per layer" of issue 16, measured by
// `python -m benchmarks.custom_call`. Not part of the library: forward only (no gradient),
// built with -ffast-math; the blocks are shared among the machine's cores (OpenMP), as
// XLA shares its loops among them.
//
// The formulas are those of `tfp_rad/fold_math.py` (`fused_fold`, `fused_log_gating`;
// rad-math sections 2 and 3), per folded element with raw parameters c_0..c_9:
//
//   u = x exp(r_in) + c_0,  r_in = B tanh(c_1 / B),  r_out = B tanh(c_3 / B)
//   q+ = min_p/3 + (1 - min_p) softmax(c_4..c_6),  q- = the same of c_7..c_9
//   alpha2 = 1 + q+_0/q+_1 + q-_2/q-_1,  a = 2 (q+_0/q+_1) / alpha2 - 1,
//   b = 1 - 2 (q-_2/q-_1) / alpha2
//   k = 0 if u < a, 2 if u > b, else 1;  log alpha_k = log alpha2 + the log q terms of
//   piece k and its tail;  v = v0 + sign alpha_k (u - u0);  z = v exp(r_out) + c_2
//   log det = r_in + log alpha_k + r_out
//
// and the gating, inside |v| <= 1 (0 outside), with s the gating logits:
//
//   l_j = cos^2(pi v / 2) s_j + (1 + sin)/2 log q+_j + (1 - sin)/2 log q-_j
//   log p(k | z) = l_k - log sum_j exp(l_j)
//
// Operands and results are in XLA's default (row-major) layout; the last operand is the
// number of folded elements m (int64). The registry's entry points are exported by
// TensorFlow's libtensorflow_cc, which this library links against.

#include <cmath>
#include <cstdint>
#include <string>

namespace xla {
class CustomCallTargetRegistry {
 public:
  static CustomCallTargetRegistry* Global();
  void Register(const std::string& symbol, void* address, const std::string& platform);
};
}  // namespace xla

namespace {

// sin(pi v / 2) = sum_k c_k v^(2k+1), c_k = (-1)^k (pi/2)^(2k+1) / (2k+1)!, k = 0..10.
constexpr int kSineTerms = 11;
constexpr double kSine[kSineTerms] = {
    1.5707963267948966, -0.6459640975062462, 0.07969262624616703, -0.004681754135318687,
    0.00016044118478735982, -3.5988432352120853e-06, 5.692172921967926e-08,
    -6.688035109811467e-10, 6.066935731106195e-12, -4.377065467313742e-14,
    2.5714184601864403e-16};

// Elements per block: each block's ten raw columns are first copied side by side, so
// that the vectorized loop reads them with unit stride; the cores share the blocks.
constexpr int64_t kBlock = 64;

template <typename T>
T scaled_tanh(T c, T bound) {  // B tanh(c / B), by tanh(y) = 1 - 2 / (exp(2 y) + 1)
  return bound * (T(1) - T(2) / (std::exp(T(2) * c / bound) + T(1)));
}

// Operands: x [m], raw [m, 10], (min_p, B) [2], m. Results: z, v [m], k [m] int32,
// log det [m], log q+ [m, 3], log q- [m, 3].
template <typename T>
void fold_forward(void* out, const void** in) {
  const T* x = static_cast<const T*>(in[0]);
  const T* raw = static_cast<const T*>(in[1]);
  const T min_p = static_cast<const T*>(in[2])[0], bound = static_cast<const T*>(in[2])[1];
  const int64_t m = *static_cast<const int64_t*>(in[3]);
  void** results = static_cast<void**>(out);
  T* z = static_cast<T*>(results[0]);
  T* v_out = static_cast<T*>(results[1]);
  int32_t* k_out = static_cast<int32_t*>(results[2]);
  T* log_det = static_cast<T*>(results[3]);
  T* log_q_plus = static_cast<T*>(results[4]);
  T* log_q_minus = static_cast<T*>(results[5]);
  const T floor = min_p / T(3), scale = T(1) - min_p;
#pragma omp parallel for schedule(static)
  for (int64_t start = 0; start < m; start += kBlock) {
    const int64_t count = m - start < kBlock ? m - start : kBlock;
    T c[10][kBlock];
    for (int64_t l = 0; l < count; ++l)
      for (int j = 0; j < 10; ++j) c[j][l] = raw[10 * (start + l) + j];
#pragma omp simd
    for (int64_t l = 0; l < count; ++l) {
      const int64_t i = start + l;
      const T r_in = scaled_tanh(c[1][l], bound), r_out = scaled_tanh(c[3][l], bound);
      const T top_p = std::fmax(std::fmax(c[4][l], c[5][l]), c[6][l]);
      const T ep0 = std::exp(c[4][l] - top_p), ep1 = std::exp(c[5][l] - top_p);
      const T ep2 = std::exp(c[6][l] - top_p);
      const T to_p = scale / (ep0 + ep1 + ep2);
      const T qp0 = floor + ep0 * to_p, qp1 = floor + ep1 * to_p, qp2 = floor + ep2 * to_p;
      const T top_m = std::fmax(std::fmax(c[7][l], c[8][l]), c[9][l]);
      const T em0 = std::exp(c[7][l] - top_m), em1 = std::exp(c[8][l] - top_m);
      const T em2 = std::exp(c[9][l] - top_m);
      const T to_m = scale / (em0 + em1 + em2);
      const T qm0 = floor + em0 * to_m, qm1 = floor + em1 * to_m, qm2 = floor + em2 * to_m;
      const T lp0 = std::log(qp0), lp1 = std::log(qp1), lp2 = std::log(qp2);
      const T lm0 = std::log(qm0), lm1 = std::log(qm1), lm2 = std::log(qm2);
      const T ratio_plus = qp0 / qp1, ratio_minus = qm2 / qm1;
      const T alpha2 = T(1) + ratio_plus + ratio_minus;
      const T a = (T(2) / alpha2) * ratio_plus - T(1);
      const T b = T(1) - (T(2) / alpha2) * ratio_minus;
      const T u = x[i] * std::exp(r_in) + c[0][l];
      const bool first = u < a, last = u > b;
      const T f_first = first ? T(1) : T(0), f_last = last ? T(1) : T(0);
      const T f_left = first && u < T(-1) ? T(1) : T(0);
      const T f_right = last && u > T(1) ? T(1) : T(0);
      const T log_alpha = std::log(alpha2) + f_first * (lp1 - lp0 + f_left * lm0)
                          + f_last * (lm1 - lm2 + f_right * lp2);
      const bool middle = !(first || last);
      const T u0 = middle ? a : f_last - f_first;
      const T v = T(1) - T(2) * f_first + (middle ? T(-1) : T(1)) * std::exp(log_alpha) * (u - u0);
      v_out[i] = v;
      z[i] = v * std::exp(r_out) + c[2][l];
      log_det[i] = r_in + r_out + log_alpha;
      k_out[i] = first ? 0 : (last ? 2 : 1);
      log_q_plus[3 * i] = lp0;
      log_q_plus[3 * i + 1] = lp1;
      log_q_plus[3 * i + 2] = lp2;
      log_q_minus[3 * i] = lm0;
      log_q_minus[3 * i + 1] = lm1;
      log_q_minus[3 * i + 2] = lm2;
    }
  }
}

// Operands: v [m], k [m] int32, s [m, 3], log q+ [m, 3], log q- [m, 3], m.
// Result: log p(k | z) [m].
template <typename T>
void log_gating_forward(void* out, const void** in) {
  const T* v = static_cast<const T*>(in[0]);
  const int32_t* k = static_cast<const int32_t*>(in[1]);
  const T* s = static_cast<const T*>(in[2]);
  const T* lp = static_cast<const T*>(in[3]);
  const T* lm = static_cast<const T*>(in[4]);
  const int64_t m = *static_cast<const int64_t*>(in[5]);
  T* log_prob = static_cast<T*>(out);
#pragma omp parallel for schedule(static)
  for (int64_t start = 0; start < m; start += kBlock) {
    const int64_t stop = m - start < kBlock ? m : start + kBlock;
#pragma omp simd
    for (int64_t i = start; i < stop; ++i) {
      const T w = std::fmin(std::fmax(v[i], T(-1)), T(1));
      const T t = w * w;
      T sum = T(kSine[kSineTerms - 1]);
      for (int j = kSineTerms - 2; j >= 0; --j) sum = T(kSine[j]) + t * sum;
      const T sine = w * sum;
      const T free = T(1) - sine * sine;
      const T plus = T(0.5) * (T(1) + sine), minus = T(0.5) * (T(1) - sine);
      const T l0 = free * s[3 * i] + plus * lp[3 * i] + minus * lm[3 * i];
      const T l1 = free * s[3 * i + 1] + plus * lp[3 * i + 1] + minus * lm[3 * i + 1];
      const T l2 = free * s[3 * i + 2] + plus * lp[3 * i + 2] + minus * lm[3 * i + 2];
      const T top = std::fmax(std::fmax(l0, l1), l2);
      const T total = std::exp(l0 - top) + std::exp(l1 - top) + std::exp(l2 - top);
      const T chosen = k[i] == 0 ? l0 : (k[i] == 1 ? l1 : l2);
      log_prob[i] = std::fabs(v[i]) <= T(1) ? chosen - top - std::log(total) : T(0);
    }
  }
}

}  // namespace

// Registers the four targets (rad_fold_f32/_f64, rad_log_gating_f32/_f64) for XLA:CPU.
extern "C" void rad_register_custom_calls() {
  auto* registry = xla::CustomCallTargetRegistry::Global();
  registry->Register("rad_fold_f32", reinterpret_cast<void*>(&fold_forward<float>), "Host");
  registry->Register("rad_fold_f64", reinterpret_cast<void*>(&fold_forward<double>), "Host");
  registry->Register("rad_log_gating_f32",
                     reinterpret_cast<void*>(&log_gating_forward<float>), "Host");
  registry->Register("rad_log_gating_f64",
                     reinterpret_cast<void*>(&log_gating_forward<double>), "Host");
}
