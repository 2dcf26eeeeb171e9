#include "backend/backend.h"

#include <algorithm>
#include <cmath>

namespace moe {

namespace {
double yarn_corr_dim(int64_t n_rot, double orig_ctx, double n_rotations, double base) {
    return static_cast<double>(n_rot) * std::log(orig_ctx / (n_rotations * 2.0 * M_PI)) / (2.0 * std::log(base));
}
}  // namespace

void rope_angles(const RopeParams& p, int32_t pos, float* angles) {
    const int64_t half = p.n_rot / 2;
    double low = 0.0;
    double high = 0.0;
    if (p.yarn) {
        low = std::max(0.0,
                       std::floor(yarn_corr_dim(p.n_rot, double(p.yarn_original_ctx), p.yarn_beta_fast, p.freq_base)));
        high = std::min(double(p.n_rot - 1),
                        std::ceil(yarn_corr_dim(p.n_rot, double(p.yarn_original_ctx), p.yarn_beta_slow, p.freq_base)));
    }
    // Powers computed in double: the float rounding of theta at position 160k would show in the angle.
    for (int64_t i = 0; i < half; ++i) {
        double theta = double(pos) * std::pow(p.freq_base, -2.0 * double(i) / double(p.n_rot));
        if (p.freq_factors) theta /= double(p.freq_factors[i]);
        theta /= p.linear_factor;
        if (p.yarn) {
            const double y = (double(i) - low) / std::max(0.001, high - low);
            const double ramp = 1.0 - std::min(1.0, std::max(0.0, y));
            theta = theta / p.yarn_factor * (1.0 - ramp) + theta * ramp;
        }
        angles[i] = static_cast<float>(theta);
    }
}

}  // namespace moe
