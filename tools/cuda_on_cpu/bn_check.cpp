// Checks kernels/norm.cu's training forward and backward on the CPU (see
// cuda_shim.h) against a case written by tests/cuda_kernels_on_cpu.rs:
//   bn_check CASE_DIR resident|small|split
// resident: slimmable_bn_{forward,backward}_resident_f32 (one block per
// channel); small: their 64-thread twins (the host's choice up to N·H·W =
// 2048; checked here on every case, several rounds where larger); split: stats -> finalize -> normalize, partials -> finalize ->
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

#include "case_io.h"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: bn_check CASE_DIR resident|small|split\n");
        return 2;
    }
    case_dir = argv[1];
    const std::string path = argv[2];
    const auto pf = case_params<BnParams>("fwd_params.bin");
    const auto pb = case_params<BnParams>("bwd_params.bin");
    const auto x = case_floats("x.bin"), dy = case_floats("dy.bin"),
               gamma = case_floats("gamma.bin"), beta = case_floats("beta.bin");
    auto y = case_floats("y_init.bin"), dx = case_floats("dx_init.bin"),
         running = case_floats("running.bin"), dgamma = case_floats("dgamma.bin"),
         dbeta = case_floats("dbeta.bin");
    std::vector<float> saved(case_floats("saved_len.bin").size(), std::nanf(""));
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
    } else if (path == "small") {
        shim_launch(c, BN_SMALL_THREADS, [&] {
            slimmable_bn_forward_resident_small_f32(x.data(), gamma.data(), beta.data(),
                                                    running.data(), saved.data(), y.data(), pf);
        });
        shim_launch(c, BN_SMALL_THREADS, [&] {
            slimmable_bn_backward_resident_small_f32(x.data(), dy.data(), gamma.data(),
                                                     beta.data(), saved.data(), dgamma.data(),
                                                     dbeta.data(), dx.data(), pb);
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
    size_t bad = case_compare("  y", y, case_floats("y.bin"), 1e-4, 1e-3);
    bad += case_compare("  running", running, case_floats("running_out.bin"), 1e-4, 1e-3);
    bad += case_compare("  dx", dx, case_floats("dx.bin"), 1e-4, 1e-3);
    bad += case_compare("  dgamma", dgamma, case_floats("dgamma_out.bin"), 1e-4, 1e-3);
    bad += case_compare("  dbeta", dbeta, case_floats("dbeta_out.bin"), 1e-4, 1e-3);
    return bad ? 1 : 0;
}
