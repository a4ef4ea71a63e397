// Reading the case files tests/cuda_kernels_on_cpu.rs writes (raw little-
// endian f32 / u32 / parameter structs), and comparing outputs with a
// tolerance, for the drivers in this folder.
#pragma once
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

inline std::string case_dir;

inline std::vector<char> case_bytes(const std::string& name) {
    std::ifstream f(case_dir + "/" + name, std::ios::binary);
    if (!f) {
        std::fprintf(stderr, "cannot read %s/%s\n", case_dir.c_str(), name.c_str());
        std::exit(2);
    }
    return std::vector<char>(std::istreambuf_iterator<char>(f), {});
}

template <class T>
inline std::vector<T> case_array(const std::string& name) {
    const auto b = case_bytes(name);
    std::vector<T> v(b.size() / sizeof(T));
    std::memcpy(v.data(), b.data(), v.size() * sizeof(T));
    return v;
}

inline std::vector<float> case_floats(const std::string& name) { return case_array<float>(name); }

// A #[repr(C)] parameter struct written with bytemuck::bytes_of.
template <class P>
inline P case_params(const std::string& name) {
    const auto b = case_bytes(name);
    if (b.size() != sizeof(P)) {
        std::fprintf(stderr, "%s has %zu bytes, the parameter struct %zu\n", name.c_str(), b.size(),
                     sizeof(P));
        std::exit(2);
    }
    P p;
    std::memcpy(&p, b.data(), sizeof p);
    return p;
}

// Elements of `got` outside atol + rtol·|want| (NaN matches NaN), with the
// worst error and the first miss printed under `what`.
inline size_t case_compare(const char* what, const std::vector<float>& got,
                           const std::vector<float>& want, double atol, double rtol) {
    size_t bad = 0;
    double worst = 0.0;
    for (size_t i = 0; i < want.size(); ++i) {
        const double e = want[i], o = got[i];
        const double err = std::isnan(e) ? (std::isnan(o) ? 0.0 : INFINITY) : std::fabs(o - e);
        if (!(err <= atol + rtol * std::fabs(e))) {
            if (bad == 0) std::printf("  %s[%zu]: got %.8g, expected %.8g\n", what, i, o, e);
            ++bad;
        }
        if (err > worst) worst = err;
    }
    std::printf("%s: %zu elements, worst error %.3g, %zu outside tolerance\n", what, want.size(),
                worst, bad);
    return bad;
}
