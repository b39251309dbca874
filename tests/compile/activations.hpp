// Synthetic calibration activations for the compile tests.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace etch::testing {

struct ActivationShape {
  int64_t tokens = 0, cols = 0;
  int directions = 0;  // shared directions every token mixes
  float noise = 0;     // the standard deviation of each channel's own noise
  // Each channel scaled by its own log-normal factor, as real layers have outlier channels.
  bool channel_scales = false;
};

// Correlated activations, as a real layer's inputs are: a few shared directions plus noise,
// tokens x cols, row-major. Correlation is what lets GPTQ and the weighted correction beat
// treating each weight on its own.
inline std::vector<float> correlated_inputs(std::mt19937& rng, const ActivationShape& shape) {
  std::normal_distribution<float> n(0, 1);
  const auto cols = static_cast<size_t>(shape.cols);
  std::vector<float> basis(static_cast<size_t>(shape.directions) * cols), channel(cols, 1.0f);
  for (float& v : basis) v = n(rng);
  if (shape.channel_scales)
    for (float& v : channel) v = std::exp(n(rng));
  std::vector<float> x(static_cast<size_t>(shape.tokens) * cols);
  std::vector<float> z(static_cast<size_t>(shape.directions));
  for (size_t t = 0; t < static_cast<size_t>(shape.tokens); ++t) {
    for (float& v : z) v = n(rng);
    for (size_t j = 0; j < cols; ++j) {
      float s = shape.noise * n(rng);
      for (size_t d = 0; d < z.size(); ++d) s += z[d] * basis[d * cols + j];
      x[t * cols + j] = channel[j] * s;
    }
  }
  return x;
}

}  // namespace etch::testing
