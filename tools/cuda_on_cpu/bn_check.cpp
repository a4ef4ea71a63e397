// Checks kernels/norm.cu's training forward and backward on the CPU (see
// cuda_shim.h) against a case written by tests/cuda_kernels_on_cpu.rs:
//   bn_check CASE_DIR resident|split
// resident: slimmable_bn_{forward,backward}_resident_f32 (one block per
// channel); split: stats -> finalize -> normalize, partials -> finalize ->
// dx. Launch shapes mirror src/backend/cuda/launch_norm.rs. Every element
// of y, the running statistics, dx, dγ and dβ (whole buffers: what lies
// outside the views must be left alone) must match the CPU reference within
// 1e-4 + 1e-3·|expected|. Exits 1 on a mismatch.
#include "cuda_shim.h"

// The backward's dynamic shared memory (one block runs at a time).
inline float* bn_dynamic_smem() {
    static float buf[16384];
    return buf;
}

#include "norm.cu"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

static std::string dir;

static std::vector<char> slurp(const std::string& name) {
    std::ifstream f(dir + "/" + name, std::ios::binary);
    if (!f) {
        std::fprintf(stderr, "cannot read %s/%s\n", dir.c_str(), name.c_str());
        std::exit(2);
    }
    return std::vector<char>(std::istreambuf_iterator<char>(f), {});
}

static std::vector<float> floats(const std::string& name) {
    const auto b = slurp(name);
    std::vector<float> v(b.size() / 4);
    std::memcpy(v.data(), b.data(), v.size() * 4);
    return v;
}

static BnParams params(const std::string& name) {
    const auto b = slurp(name);
    if (b.size() != sizeof(BnParams)) {
        std::fprintf(stderr, "%s has %zu bytes, BnParams %zu\n", name.c_str(), b.size(),
                     sizeof(BnParams));
        std::exit(2);
    }
    BnParams p;
    std::memcpy(&p, b.data(), sizeof p);
    return p;
}

static size_t compare(const char* what, const std::vector<float>& got,
                      const std::vector<float>& want) {
    size_t bad = 0;
    double worst = 0.0;
    for (size_t i = 0; i < want.size(); ++i) {
        const double e = want[i], o = got[i];
        const double err = std::isnan(e) ? (std::isnan(o) ? 0.0 : INFINITY) : std::fabs(o - e);
        if (!(err <= 1e-4 + 1e-3 * std::fabs(e))) {
            if (bad == 0)
                std::printf("  %s[%zu]: got %.8g, expected %.8g\n", what, i, o, e);
            ++bad;
        }
        if (err > worst) worst = err;
    }
    std::printf("  %s: %zu elements, worst error %.3g, %zu outside tolerance\n", what,
                want.size(), worst, bad);
    return bad;
}

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: bn_check CASE_DIR resident|split\n");
        return 2;
    }
    dir = argv[1];
    const std::string path = argv[2];
    const BnParams pf = params("fwd_params.bin"), pb = params("bwd_params.bin");
    const auto x = floats("x.bin"), dy = floats("dy.bin"), gamma = floats("gamma.bin"),
               beta = floats("beta.bin");
    auto y = floats("y_init.bin"), dx = floats("dx_init.bin"), running = floats("running.bin"),
         dgamma = floats("dgamma.bin"), dbeta = floats("dbeta.bin");
    std::vector<float> saved(floats("saved_len.bin").size(), std::nanf(""));
    const u32 c = pf.x.dims[1];
    const u32 numel = pf.x.dims[0] * pf.x.dims[1] * pf.x.dims[2] * pf.x.dims[3];
    const u32 tiles = (numel + BN_TILE - 1) / BN_TILE;
    const u32 warp_blocks = (c + BN_WARPS - 1) / BN_WARPS;
    if (path == "resident") {
        shim_launch(c, BN_RESF_THREADS, [&] {
            slimmable_bn_forward_resident_f32(x.data(), gamma.data(), beta.data(), running.data(),
                                              saved.data(), y.data(), pf);
        });
        shim_launch(c, BN_RESB_THREADS, [&] {
            slimmable_bn_backward_resident_f32(x.data(), dy.data(), gamma.data(), beta.data(),
                                               saved.data(), dgamma.data(), dbeta.data(),
                                               dx.data(), pb);
        });
    } else if (path == "split") {
        BnParams pn = pf;  // BnParams::for_train_normalize
        pn.mean_offset = 0;
        pn.var_offset = c;
        pn.flags &= ~BN_STATS_ARE_VAR;
        shim_launch(pf.chunks, BN_THREADS,
                    [&] { slimmable_bn_stats_f32(x.data(), saved.data(), pf); }, c);
        shim_launch(warp_blocks, BN_THREADS,
                    [&] { slimmable_bn_finalize_f32(saved.data(), running.data(), pf); });
        shim_launch(tiles, BN_THREADS, [&] {
            slimmable_bn_normalize_f32(x.data(), gamma.data(), beta.data(), saved.data(),
                                       y.data(), pn);
        });
        shim_launch(pb.chunks, BN_THREADS, [&] {
            slimmable_bn_backward_partials_f32(x.data(), dy.data(), gamma.data(), beta.data(),
                                               saved.data(), pb);
        }, c);
        shim_launch(warp_blocks, BN_THREADS, [&] {
            slimmable_bn_backward_finalize_f32(saved.data(), dgamma.data(), dbeta.data(), pb);
        });
        shim_launch(tiles, BN_THREADS, [&] {
            slimmable_bn_backward_dx_f32(x.data(), dy.data(), gamma.data(), beta.data(),
                                         saved.data(), dx.data(), pb);
        });
    } else {
        std::fprintf(stderr, "unknown path %s\n", path.c_str());
        return 2;
    }
    std::printf("%s:\n", path.c_str());
    size_t bad = compare("y", y, floats("y.bin"));
    bad += compare("running", running, floats("running_out.bin"));
    bad += compare("dx", dx, floats("dx.bin"));
    bad += compare("dgamma", dgamma, floats("dgamma_out.bin"));
    bad += compare("dbeta", dbeta, floats("dbeta_out.bin"));
    return bad ? 1 : 0;
}
