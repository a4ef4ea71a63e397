// Checks kernels/resize_pack.cu's direct-order kernels on the CPU (see
// cuda_shim.h) against a case written by tests/cuda_kernels_on_cpu.rs:
//   resize_check CASE_DIR KERNEL     (KERNEL: per_column | tiled)
// CASE_DIR holds params.bin (ResizePackParams), desc.bin (u32 words),
// src.bin (source bytes), expected.bin (the CPU reference's arena, f32).
// The arena is poisoned with NaN first; every element must match within
// 1e-5 + 1e-5·|expected|. Prints the worst error; exits 1 on a mismatch.
#include "cuda_shim.h"
#include "resize_pack.cu"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

static std::vector<char> slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        std::fprintf(stderr, "cannot read %s\n", path.c_str());
        std::exit(2);
    }
    return std::vector<char>(std::istreambuf_iterator<char>(f), {});
}

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: resize_check CASE_DIR per_column|tiled\n");
        return 2;
    }
    const std::string dir = argv[1], which = argv[2];
    const auto pbytes = slurp(dir + "/params.bin");
    if (pbytes.size() != sizeof(ResizePackParams)) {
        std::fprintf(stderr, "params.bin has %zu bytes, ResizePackParams %zu\n", pbytes.size(),
                     sizeof(ResizePackParams));
        return 2;
    }
    ResizePackParams p;
    std::memcpy(&p, pbytes.data(), sizeof p);
    const auto dbytes = slurp(dir + "/desc.bin");
    std::vector<u32> desc(dbytes.size() / 4);
    std::memcpy(desc.data(), dbytes.data(), desc.size() * 4);
    auto src = slurp(dir + "/src.bin");
    src.resize(src.size() + 8, 0);  // the 32-bit reads never pass the image, but keep slack
    const auto ebytes = slurp(dir + "/expected.bin");
    std::vector<float> expected(ebytes.size() / 4);
    std::memcpy(expected.data(), ebytes.data(), expected.size() * 4);
    std::vector<float> out(expected.size(), std::nanf(""));
    // 16-byte aligned source, as a device allocation is.
    std::vector<uint32_t> aligned((src.size() + 3) / 4);
    std::memcpy(aligned.data(), src.data(), src.size());
    const auto* s = reinterpret_cast<const unsigned char*>(aligned.data());
    if (which == "tiled") {
        shim_launch(p.total_tiles, RPT_THREADS,
                    [&] { slimmable_resize_pack_tiled(s, desc.data(), out.data(), p); });
    } else if (which == "per_column") {
        const unsigned blocks = (p.total_groups + 255) / 256;
        shim_launch(blocks, 256, [&] { slimmable_resize_pack(s, desc.data(), out.data(), p); });
    } else {
        std::fprintf(stderr, "unknown kernel %s\n", which.c_str());
        return 2;
    }
    double worst = 0.0;
    size_t bad = 0, first_bad = 0;
    for (size_t i = 0; i < out.size(); ++i) {
        const double e = expected[i], o = out[i];
        const double err = std::isnan(e) ? (std::isnan(o) ? 0.0 : INFINITY) : std::fabs(o - e);
        if (!(err <= 1e-5 + 1e-5 * std::fabs(e))) {
            if (bad++ == 0) first_bad = i;
        }
        if (err > worst || std::isnan(err)) worst = err;
    }
    std::printf("%s: %zu elements, worst error %.3g, %zu outside tolerance", which.c_str(),
                out.size(), worst, bad);
    if (bad) {
        std::printf(" (first at %zu: got %.8g, expected %.8g)", first_bad, out[first_bad],
                    expected[first_bad]);
    }
    std::printf("\n");
    return bad ? 1 : 0;
}
