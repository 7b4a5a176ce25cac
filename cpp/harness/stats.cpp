// Statistics and the adaptive repetition loop (see harness.hpp for the definitions).
#include "harness/harness.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace uhop::harness {

double percentile_sorted(const std::vector<double> &x, double p) {
    const std::size_t n = x.size();
    if (n == 0) return std::numeric_limits<double>::quiet_NaN();
    const double pos = (p / 100.0) * static_cast<double>(n - 1);
    const std::size_t lo = static_cast<std::size_t>(std::floor(pos));
    const std::size_t hi = std::min(lo + 1, n - 1);
    const double frac = pos - static_cast<double>(lo);
    // NumPy's "linear" method: lerp written as NumPy does to match it bit for bit where possible.
    const double a = x[lo], b = x[hi];
    const double diff = b - a;
    return frac >= 0.5 ? b - diff * (1.0 - frac) : a + diff * frac;
}

double median_sorted(const std::vector<double> &x) {
    const std::size_t n = x.size();
    if (n == 0) return std::numeric_limits<double>::quiet_NaN();
    if (n % 2 == 1) return x[n / 2];
    return (x[n / 2 - 1] + x[n / 2]) / 2.0;
}

std::pair<double, double> median_ci_sorted(const std::vector<double> &x, double z) {
    const std::size_t n = x.size();
    if (n == 0) return {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()};
    const double half = z * std::sqrt(static_cast<double>(n)) / 2.0;
    const double lo_r = std::floor(static_cast<double>(n) / 2.0 - half);
    const double hi_r = std::ceil(static_cast<double>(n) / 2.0 + half);
    const std::size_t lo = lo_r < 0 ? 0 : static_cast<std::size_t>(lo_r);
    const std::size_t hi = std::min(n - 1, static_cast<std::size_t>(std::max(0.0, hi_r)));
    return {x[lo], x[hi]};
}

double rel_ci_sorted(const std::vector<double> &x) {
    const double med = median_sorted(x);
    if (x.size() < 3 || !(med > 0)) return std::numeric_limits<double>::infinity();
    auto ci = median_ci_sorted(x);
    return (ci.second - ci.first) / (2.0 * med);
}

Summary summarize(std::vector<double> x) {
    Summary s;
    std::sort(x.begin(), x.end());
    const std::size_t n = x.size();
    s.runs = n;
    if (n == 0) return s;
    s.median = median_sorted(x);
    s.min = x.front();
    s.max = x.back();
    s.q1 = percentile_sorted(x, 25.0);
    s.q3 = percentile_sorted(x, 75.0);
    s.iqr = s.q3 - s.q1;
    // Mean of the deviations from the median (exact for constant samples, and better
    // conditioned than a plain sum), with Neumaier-compensated summation.
    double sum = 0.0, comp = 0.0;
    for (double v : x) {
        const double d = v - s.median, t = sum + d;
        comp += std::fabs(sum) >= std::fabs(d) ? (sum - t) + d : (d - t) + sum;
        sum = t;
    }
    s.mean = s.median + (sum + comp) / static_cast<double>(n);
    if (n > 1) {
        double ss = 0.0;
        for (double v : x) ss += (v - s.mean) * (v - s.mean);
        s.std = std::sqrt(ss / static_cast<double>(n - 1));
    } else {
        s.std = 0.0;
    }
    s.cv = s.mean > 0 ? s.std / s.mean : std::numeric_limits<double>::quiet_NaN();
    const double lo_fence = s.q1 - 1.5 * s.iqr, hi_fence = s.q3 + 1.5 * s.iqr;
    for (double v : x)
        if (v < lo_fence || v > hi_fence) ++s.outliers;
    auto ci = median_ci_sorted(x);
    s.ci_low = ci.first;
    s.ci_high = ci.second;
    s.rel_ci = rel_ci_sorted(x);
    return s;
}

void LoopOptions::check() {
    if (warmup < 0) throw std::invalid_argument("warmup must be >= 0");
    if (min_runs < 1) min_runs = 1;
    if (max_runs < min_runs) max_runs = min_runs;
    if (!(budget_s >= 0) || std::isinf(budget_s)) throw std::invalid_argument("budget_s must be a finite number >= 0");
    if (std::isnan(target_rel_ci)) throw std::invalid_argument("target_rel_ci must be a number");
    if (batch < 1) batch = 1;
}

namespace {
void insert_sorted(std::vector<double> &v, double x) { v.insert(std::upper_bound(v.begin(), v.end(), x), x); }
}  // namespace

LoopResult run_adaptive(const LoopOptions &opts, std::size_t n_stages, const BatchFn &batch) {
    LoopResult r;
    r.warmup = opts.warmup;
    r.flush_bytes = opts.flush_bytes;
    r.batch = std::max(1, opts.batch);
    r.stages.assign(n_stages, {});
    const bool flushing = opts.flush_bytes > 0;
    std::vector<Rep> reps;
    for (int done = 0; done < opts.warmup;) {
        const int k = std::min(r.batch, opts.warmup - done);
        reps.clear();
        batch(k, true, reps);
        done += k;
        if (flushing) r.flushes += k;
    }
    std::vector<double> sorted_dev, sorted_wall;
    sorted_dev.reserve(static_cast<std::size_t>(std::min(opts.max_runs, 1 << 16)));
    sorted_wall.reserve(sorted_dev.capacity());
    const auto t_start = std::chrono::steady_clock::now();
    bool stop = false;
    while (!stop && static_cast<int>(r.wall.size()) < opts.max_runs) {
        const int n = static_cast<int>(r.wall.size());
        int k = std::min(r.batch, opts.max_runs - n);
        if (n < opts.min_runs) {
            k = std::min(k, opts.min_runs - n);
        } else {
            k = std::min(k, std::max(1, n / 4));
            const double per = median_sorted(sorted_wall);
            const double left = opts.budget_s - seconds_since(t_start);
            if (per > 0 && left > 0) k = std::min(k, std::max(1, static_cast<int>(left / per)));
        }
        reps.clear();
        batch(k, false, reps);
        ++r.waits;
        for (const Rep &s : reps) {
            if (flushing) {
                ++r.flushes;
                r.flush.push_back(s.flush);
            }
            r.wall.push_back(s.wall);
            insert_sorted(sorted_wall, s.wall);
            if (r.clock == "device" && !s.device_ok) r.clock = "wall";
            if (r.clock == "device") {
                double total = 0.0;
                for (std::size_t i = 0; i < s.stages.size() && i < n_stages; ++i) {
                    total += s.stages[i];
                    r.stages[i].push_back(s.stages[i]);
                }
                r.device.push_back(total);
                insert_sorted(sorted_dev, total);
            }
        }
        if (static_cast<int>(r.wall.size()) >= opts.min_runs) {
            const auto &sorted = r.clock == "device" ? sorted_dev : sorted_wall;
            if (rel_ci_sorted(sorted) <= opts.target_rel_ci) {
                r.stopped_by = "precision";
                stop = true;
            } else if (seconds_since(t_start) >= opts.budget_s) {
                r.stopped_by = "budget";
                stop = true;
            }
        }
    }
    r.loop_s = seconds_since(t_start);
    if (r.clock != "device") {
        r.device.clear();
        for (auto &st : r.stages) st.clear();
    }
    return r;
}

}  // namespace uhop::harness
