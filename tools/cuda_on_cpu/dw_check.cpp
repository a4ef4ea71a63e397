// Checks kernels/dwconv2d.cu on the CPU (see cuda_shim.h) against a case
// written by tests/cuda_kernels_on_cpu.rs:
//   dw_check CASE_DIR fwd|dgrad|wgrad [noflat|noflat4|nonarrow]
// The case holds the pass's Conv2dParams (params.bin), the x, w, y buffers
// before (x.bin, w.bin, y.bin; the output poisoned or, for wgrad, holding
// earlier gradients) and the CPU reference's output buffer (expected.bin).
// Kernel choice and launch shapes mirror src/backend/cuda/launch_conv.rs.
// Every element of the output buffer must match within 1e-4 + 1e-4·|e|.
#include "cuda_shim.h"
#include "dwconv2d.cu"
#include "dw3x3s1_flat.cu"

#include "case_io.h"

// launch_conv.rs dw3_tile: the 3x3 kernels' (tw, th, planes per block).
static void tile3_of(unsigned w, unsigned& tw, unsigned& th, unsigned& pz) {
    if (w >= 28) { tw = 32; th = 8; pz = 1; }
    else if (w >= 12) { tw = 16; th = 4; pz = 4; }
    else { tw = 8; th = 2; pz = 16; }
}

// launch_conv.rs dw_tile: (tw, th, planes per block) for a plane w wide.
static void tile_of(unsigned w, unsigned& tw, unsigned& th, unsigned& pz) {
    if (w >= 28) { tw = 32; th = 8; pz = 1; }
    else if (w >= 12) { tw = 16; th = 16; pz = 1; }
    else { tw = 8; th = 8; pz = 4; }
}

// launch_conv.rs dw_flat_fits: the flat 3x3 stride-1 kernels' conditions.
static bool flat_fits(const Conv2dParams& p) {
    auto follow = [](const ViewParams& v) {
        return v.strides[3] == 1 && v.strides[2] == v.dims[3] && v.strides[1] == v.dims[2] * v.dims[3];
    };
    return p.w.dims[2] == 3 && p.w.dims[3] == 3 && p.stride_h == 1 && p.stride_w == 1 &&
           p.pad_h == 1 && p.pad_w == 1 && follow(p.x) && follow(p.y) && p.x.dims[3] <= DWF_MAX_W &&
           p.x.dims[2] * p.x.dims[3] >= DWF_MIN_PLANE;
}

int main(int argc, char** argv) {
    const std::string mode = argc == 4 ? argv[3] : "";
    if (argc != 3 &&
        !(argc == 4 && (mode == "noflat" || mode == "noflat4" || mode == "nonarrow"))) {
        std::fprintf(stderr, "usage: dw_check CASE_DIR fwd|dgrad|wgrad [noflat|noflat4|nonarrow]\n");
        return 2;
    }
    case_dir = argv[1];
    const std::string pass = argv[2];
    const auto p = case_params<Conv2dParams>("params.bin");
    auto x = case_floats("x.bin"), w = case_floats("w.bin"), y = case_floats("y.bin"),
         bias = case_floats("bias.bin");
    const unsigned n = p.x.dims[0], ic = p.x.dims[1], h = p.x.dims[2], wd = p.x.dims[3];
    const unsigned ho = p.y.dims[2], wo = p.y.dims[3], kh = p.w.dims[2], kw = p.w.dims[3];
    const bool tiled_ok = kh <= 7 && kw <= 7 && p.stride_h <= 2 && p.stride_w <= 2;
    std::vector<float>* out = nullptr;
    unsigned tw, th, pz;
    // launch_conv.rs: the flat kernels' grid (segments, images / per block);
    // wgrad here with three images a block, so that blocks meet in atomics.
    const bool flat = mode != "noflat" && flat_fits(p) && (pass != "wgrad" || (wd >= 28 && wd <= DWF_WGRAD_MAX_W));
    // launch_conv.rs dw_flat_row4: the twins for planes a multiple of 4 wide
    // (noflat4: SLIMMABLE_DW_FLAT4=0 on the host).
    const bool row4 = flat && mode != "noflat4" && wd % 4 == 0;
    // dw_flat_row2: forward and dgrad twins for other even widths.
    const bool row2 = flat && mode != "noflat4" && pass != "wgrad" && wd % 4 == 2;
    const unsigned segments = (ic * h * wd + DWF_SEG - 1) / DWF_SEG;
    // launch_conv.rs dw_wgrad_narrow (nonarrow: SLIMMABLE_DW_WGRAD_NARROW=0;
    // noflat keeps the tiled kernels covered).
    const bool narrow = pass == "wgrad" && mode != "nonarrow" && mode != "noflat" && kh == 3 &&
                        kw == 3 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 1 &&
                        p.pad_w == 1 && wd <= DW_NARROW_MAX_W && p.groups == ic && p.groups == p.y.dims[1];
    if (flat) {
        const float *xd = x.data(), *wd_ = w.data(), *yd = y.data(), *bd = bias.data();
        if (pass == "fwd") {
            out = &y;
            shim_launch({segments, n, 1}, {DWF_THREADS, 1, 1}, [&] {
                (row4   ? slimmable_dwconv2d_fwd_k3s1_flat4
                 : row2 ? slimmable_dwconv2d_fwd_k3s1_flat2
                        : slimmable_dwconv2d_fwd_k3s1_flat)(xd, wd_, y.data(), bd, p);
            });
        } else if (pass == "dgrad") {
            out = &x;
            shim_launch({segments, n, 1}, {DWF_THREADS, 1, 1}, [&] {
                (row4   ? slimmable_dwconv2d_dgrad_k3s1_flat4
                 : row2 ? slimmable_dwconv2d_dgrad_k3s1_flat2
                        : slimmable_dwconv2d_dgrad_k3s1_flat)(x.data(), wd_, yd, p);
            });
        } else {
            out = &w;
            // First one block on NaN inputs whose segment is full, so that
            // the kernel's whole window holds NaN: a read of what the real
            // run did not stage shows (the shim's shared arrays are statics
            // that keep what the last block left; on a GPU they hold anything).
            Conv2dParams q = p;
            const u32 plane = h * wd, c2 = (DWF_SEG + 2 * wd + 2) / plane + 2;
            for (ViewParams* v : {&q.x, &q.y}) {
                *v = ViewParams{{1, c2, h, wd}, {c2 * plane, plane, wd, 1}, 0, {0, 0, 0}};
            }
            q.w = ViewParams{{c2, 1, 3, 3}, {9, 9, 3, 1}, 0, {0, 0, 0}};
            q.groups = c2;
            const std::vector<float> nan_x(c2 * plane, std::nanf("")), nan_dy(c2 * plane, std::nanf(""));
            std::vector<float> scratch_w(c2 * 9);
            shim_launch({1, 1, 1}, {DWF_THREADS, 1, 1}, [&] {
                // The kernel that runs below (each has its own shared arrays).
                (row4 ? slimmable_dwconv2d_wgrad_k3s1_flat4 : slimmable_dwconv2d_wgrad_k3s1_flat)(
                    nan_x.data(), scratch_w.data(), nan_dy.data(), q, 1);
            });
            shim_launch({segments, (n + 2) / 3, 1}, {DWF_THREADS, 1, 1}, [&] {
                (row4 ? slimmable_dwconv2d_wgrad_k3s1_flat4 : slimmable_dwconv2d_wgrad_k3s1_flat)(
                    xd, w.data(), yd, p, 3);
            });
        }
    } else if (pass == "fwd") {
        out = &y;
        tile_of(wo, tw, th, pz);
        const bool k3 = kh == 3 && kw == 3 && p.stride_h == p.stride_w && p.stride_h <= 2;
        if (k3) {
            tile3_of(wo, tw, th, pz);
            const bool s1 = p.stride_h == 1;
            auto run = [&] {
                const float *xd = x.data(), *wd_ = w.data(), *bd = bias.data();
                float* yd = y.data();
                if (tw == 32) (s1 ? slimmable_dwconv2d_fwd_k3s1_t32 : slimmable_dwconv2d_fwd_k3s2_t32)(xd, wd_, yd, bd, p);
                else if (tw == 16) (s1 ? slimmable_dwconv2d_fwd_k3s1_t16 : slimmable_dwconv2d_fwd_k3s2_t16)(xd, wd_, yd, bd, p);
                else (s1 ? slimmable_dwconv2d_fwd_k3s1_t8 : slimmable_dwconv2d_fwd_k3s2_t8)(xd, wd_, yd, bd, p);
            };
            shim_launch({(wo + tw - 1) / tw, (ho + 4 * th - 1) / (4 * th), (n * ic + pz - 1) / pz},
                        {tw, th, pz}, run);
        } else if (!tiled_ok) {
            shim_launch((n * ic * ho * wo + 255) / 256, 256,
                        [&] { slimmable_dwconv2d_fwd(x.data(), w.data(), y.data(), bias.data(), p); });
        } else {
            const ShimDim3 grid{(wo + tw - 1) / tw, (ho + th - 1) / th, (n * ic + pz - 1) / pz};
            const ShimDim3 block{tw, th, pz};
            auto run = [&] {
                if (tw == 32) slimmable_dwconv2d_fwd_t32x8x1(x.data(), w.data(), y.data(), bias.data(), p);
                else if (tw == 16) slimmable_dwconv2d_fwd_t16x16x1(x.data(), w.data(), y.data(), bias.data(), p);
                else slimmable_dwconv2d_fwd_t8x8x4(x.data(), w.data(), y.data(), bias.data(), p);
            };
            shim_launch(grid, block, run);
        }
    } else if (pass == "dgrad") {
        out = &x;
        tile_of(wd, tw, th, pz);
        const bool k3 = kh == 3 && kw == 3 && p.stride_h == p.stride_w && p.stride_h <= 2;
        if (k3) {
            tile3_of(wd, tw, th, pz);
            const bool s1 = p.stride_h == 1;
            auto run = [&] {
                if (tw == 32) (s1 ? slimmable_dwconv2d_dgrad_k3s1_t32 : slimmable_dwconv2d_dgrad_k3s2_t32)(x.data(), w.data(), y.data(), p);
                else if (tw == 16) (s1 ? slimmable_dwconv2d_dgrad_k3s1_t16 : slimmable_dwconv2d_dgrad_k3s2_t16)(x.data(), w.data(), y.data(), p);
                else (s1 ? slimmable_dwconv2d_dgrad_k3s1_t8 : slimmable_dwconv2d_dgrad_k3s2_t8)(x.data(), w.data(), y.data(), p);
            };
            shim_launch({(wd + tw - 1) / tw, (h + 4 * th - 1) / (4 * th), (n * ic + pz - 1) / pz},
                        {tw, th, pz}, run);
        } else if (!tiled_ok || p.stride_h != p.stride_w) {
            shim_launch((n * ic * h * wd + 255) / 256, 256,
                        [&] { slimmable_dwconv2d_dgrad(x.data(), w.data(), y.data(), p); });
        } else {
            const ShimDim3 grid{(wd + tw - 1) / tw, (h + th - 1) / th, (n * ic + pz - 1) / pz};
            const ShimDim3 block{tw, th, pz};
            const bool s1 = p.stride_h == 1;
            auto run = [&] {
                if (tw == 32) (s1 ? slimmable_dwconv2d_dgrad_t32x8x1_s1 : slimmable_dwconv2d_dgrad_t32x8x1_s2)(x.data(), w.data(), y.data(), p);
                else if (tw == 16) (s1 ? slimmable_dwconv2d_dgrad_t16x16x1_s1 : slimmable_dwconv2d_dgrad_t16x16x1_s2)(x.data(), w.data(), y.data(), p);
                else (s1 ? slimmable_dwconv2d_dgrad_t8x8x4_s1 : slimmable_dwconv2d_dgrad_t8x8x4_s2)(x.data(), w.data(), y.data(), p);
            };
            shim_launch(grid, block, run);
        }
    } else if (narrow) {
        out = &w;
        // Splits of the batch (two, so that blocks meet in the atomics).
        shim_launch({ic, 2, 1}, {DW_NARROW_THREADS, 1, 1}, [&] {
            slimmable_dwconv2d_wgrad_k3s1_narrow(x.data(), w.data(), y.data(), p);
        });
    } else if (pass == "wgrad") {
        out = &w;
        const bool k3 = kh == 3 && kw == 3 && p.stride_h == p.stride_w && p.stride_h <= 2;
        // Splits do not change the sums' meaning: two, so the atomics meet.
        if (k3 && wo >= 28) {  // the 32-wide tile only (launch_conv.rs)
            tile3_of(wo, tw, th, pz);
            const bool s1 = p.stride_h == 1;
            auto run = [&] {
                (s1 ? slimmable_dwconv2d_wgrad_k3s1_t32 : slimmable_dwconv2d_wgrad_k3s2_t32)(x.data(), w.data(), y.data(), p);
            };
            const unsigned per_block = DW3_LANE_IMAGES * pz;
            shim_launch({(wo + tw - 1) / tw, (ho + 4 * th - 1) / (4 * th), ic * ((n + per_block - 1) / per_block)},
                        {tw, th, pz}, run);
        } else if (kh == kw && (kh == 3 || kh == 5 || kh == 7)) {
            auto run = [&] {
                if (kh == 3) slimmable_dwconv2d_wgrad_k3(x.data(), w.data(), y.data(), p);
                else if (kh == 5) slimmable_dwconv2d_wgrad_k5(x.data(), w.data(), y.data(), p);
                else slimmable_dwconv2d_wgrad_k7(x.data(), w.data(), y.data(), p);
            };
            shim_launch({ic, 2, 1}, {256, 1, 1}, run);
        } else {
            shim_launch({ic, kh * kw, 2}, {256, 1, 1},
                        [&] { slimmable_dwconv2d_wgrad(x.data(), w.data(), y.data(), p); });
        }
    } else {
        std::fprintf(stderr, "unknown pass %s\n", pass.c_str());
        return 2;
    }
    const std::string what = pass + (row4     ? " (flat4)"
                                     : row2   ? " (flat2)"
                                     : flat   ? " (flat)"
                                     : narrow ? " (narrow)"
                                              : "");
    const size_t bad = case_compare(what.c_str(), *out, case_floats("expected.bin"), 1e-4, 1e-4);
    return bad ? 1 : 0;
}
