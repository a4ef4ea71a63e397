// Checks kernels/conv2d.cu's implicit GEMMs (exact f32, TF32 and BF16
// mma.sync, the latter two through cuda_shim.h's m16n8k8 emulation) on the
// CPU against a
// case written by tests/cuda_kernels_on_cpu.rs:
//   conv_check CASE_DIR fwd|dgrad|wgrad f32|tf32|bf16 [square|stemwgrad]
// (square: SLIMMABLE_GEMM_SQUARE=1 on the host, the 128 x 128 TF32 tiles
// where launch_conv.rs gemm_square_fits allows them; ldsm: with
// SLIMMABLE_GEMM_LDSM=1 too, their ldmatrix twins in conv2d_ldsm.cu where
// ldsm_fits allows them, three stages; ldsm_split: SLIMMABLE_GEMM_LDSM_SPLIT=3, the forward and dgrad with K
// split three ways; wgmma: SLIMMABLE_GEMM_WGMMA=1, the three-stage
// 128-row TF32 tiles' warpgroup-MMA twins through cuda_shim.h's wgmma
// emulation; wgmma_split: those with K split three ways; wgmma4:
// SLIMMABLE_GEMM_WGMMA_STAGES=4, their four-stage twins; wgmma4o:
// SLIMMABLE_GEMM_WGMMA_OVERLAP=1, four stages with each tile's MMAs in
// flight across the next barrier; wgmma_k32: SLIMMABLE_GEMM_WGMMA_BK=32,
// three stages of 32 k; wgmma_k32_split: those with K split three ways;
// wgmma_swapped: the plain wgmma twins with the emulation reading every
// descriptor's offsets the other way round, which must fail.)
// Files: params.bin (Conv2dParams), x.bin, w.bin, y.bin, bias.bin (buffers
// before the pass), expected.bin (the CPU reference's output buffer),
// tol.bin (atol, rtol). Tile choice, split-K and grid mirror
// src/backend/cuda/launch_conv.rs.
#include "cuda_shim.h"

// conv2d_ldsm.cu's dynamic shared memory (one block runs at a time): room
// for its largest kernel's, the wgmma twins' with K tiles of 32.
constexpr size_t LDSM_DYNAMIC_BYTES = 99840;
inline float* ldsm_dynamic_smem() {
    alignas(16) static float buf[LDSM_DYNAMIC_BYTES / 4];
    return buf;
}

#include "conv2d.cu"
#include "conv2d_ldsm.cu"
#include "stem_conv.cu"

#include <algorithm>
#include <cstdint>

#include "case_io.h"

using Kernel = void (*)(float*, float*, float*, const float*, Conv2dParams, u32);

// conv_common.cuh's FastDiv against the division it stands for: every
// divisor up to 600 (kernel sizes, output widths and heights) on every
// numerator below 2^16, on numerators up to 2^31 - 1 in growing steps, and
// on the last one.
static int check_fast_div() {
    for (u32 d = 1; d <= 600; ++d) {
        const FastDiv f = fast_div(d);
        for (u32 n = 0;; n = n < (1u << 16) ? n + 1 : n + 1 + n / 4096) {
            if (n > 0x7FFFFFFFu) n = 0x7FFFFFFFu;
            if (div_by(n, f) != n / d) {
                std::fprintf(stderr, "fast_div: %u / %u gave %u\n", n, d, div_by(n, f));
                return 1;
            }
            if (n == 0x7FFFFFFFu) break;
        }
    }
    std::printf("fast_div: ok\n");
    return 0;
}

int main(int argc, char** argv) {
    if (argc == 2 && std::string(argv[1]) == "fastdiv") return check_fast_div();
    // The optional last argument: the route to force (see the top).
    const std::string route = argc == 5 ? argv[4] : "";
    // (Routes for the forward and dgrad only: given for a wgrad they are
    // no route, and the usage line stops the driver.)
    const bool fwd_or_dgrad = argc == 5 && std::string(argv[2]) != "wgrad";
    // ldsm_split: the forward or dgrad with K split three ways
    // (SLIMMABLE_GEMM_LDSM_SPLIT=3: uneven chunks, the output zeroed first).
    const bool wgmma_k32_split_on = route == "wgmma_k32_split" && fwd_or_dgrad;
    const bool wgmma_split_on = wgmma_k32_split_on || (route == "wgmma_split" && fwd_or_dgrad);
    const bool wgmma4_on = route == "wgmma4";
    const bool wgmma4o_on = route == "wgmma4o";
    const bool wgmma_k32_on = wgmma_k32_split_on || route == "wgmma_k32";
    const bool wgmma_swapped_on = route == "wgmma_swapped";
    const bool wgmma_on = wgmma_split_on || wgmma4_on || wgmma4o_on || wgmma_k32_on ||
                          wgmma_swapped_on || route == "wgmma";
    const bool ldsm_split_on = wgmma_split_on || (route == "ldsm_split" && fwd_or_dgrad);
    const bool ldsm_on = ldsm_split_on || wgmma_on || route == "ldsm";
    const bool square_on = ldsm_on || route == "square";
    // gemmwgrad: SLIMMABLE_STEM_WGRAD_DIRECT=0 on the host (the stem's
    // wgrad on the split-K GEMM instead of its direct kernel).
    const bool stem_wgrad_off = route == "gemmwgrad";
    if (argc != 4 && !square_on && !stem_wgrad_off) {
        std::fprintf(stderr, "usage: conv_check CASE_DIR fwd|dgrad|wgrad f32|tf32|bf16 [square|ldsm|ldsm_split|wgmma|wgmma_split|wgmma4|wgmma4o|wgmma_k32|wgmma_k32_split|wgmma_swapped|gemmwgrad]\n");
        return 2;
    }
    case_dir = argv[1];
    const std::string pass = argv[2];
    const std::string prec = argv[3];
    const int mode = prec == "tf32" ? 1 : prec == "bf16" ? 2 : 0;
    const auto p = case_params<Conv2dParams>("params.bin");
    auto x = case_floats("x.bin"), w = case_floats("w.bin"), y = case_floats("y.bin"),
         bias = case_floats("bias.bin");
    const auto tol = case_floats("tol.bin");
    const uint64_t n = p.x.dims[0], ic = p.x.dims[1], h = p.x.dims[2], wd = p.x.dims[3];
    const uint64_t oc = p.y.dims[1], ho = p.y.dims[2], wo = p.y.dims[3];
    const uint64_t khw = p.w.dims[2] * p.w.dims[3], groups = p.groups;
    const uint64_t icg = ic / groups, ocg = oc / groups, pixels = n * ho * wo;
    uint64_t m, cols, k_len;
    if (pass == "fwd") { m = n * ho * wo; cols = ocg; k_len = icg * khw; }
    else if (pass == "dgrad") { m = n * h * wd; cols = icg; k_len = ocg * khw; }
    else { m = ocg; cols = icg * khw; k_len = pixels; }
    const bool narrow = cols <= 16;
    // gemm_square_fits: TF32 forward or dgrad whose columns fill 128-wide
    // tiles at least as well as 64-wide ones.
    // The wgrad also needs its rows (output channels) to fill them, and a
    // kernel larger than 1x1.
    auto fills = [](uint64_t c) { return c > 64 && (c % 128 == 0 || c % 128 > 64); };
    const bool square_shape = !narrow && fills(cols) && (pass != "wgrad" || (khw > 1 && fills(m)));
    const bool square = square_on && mode == 1 && square_shape;
    // ldsm_fits (launch_conv.rs): a kernel larger than 1x1; forward
    // weights and wgrad gradients packed; dgrad at stride 1.
    const bool packed = p.w.strides[3] == 1 && p.w.strides[2] == p.w.dims[3] &&
                        p.w.strides[1] == p.w.dims[2] * p.w.dims[3];
    const bool unit_stride = p.stride_h == 1 && p.stride_w == 1;
    // BF16 (ldsm_bf16_fits, SLIMMABLE_GEMM_LDSM_BF16=1): the three-stage
    // 128-row tiles' BF16 twins on the same shapes.
    const bool bf16_ldsm = mode == 2 && (ldsm_on && !wgmma_on) && square_shape;
    const bool ldsm = ldsm_on && (square || bf16_ldsm) && khw > 1 && (pass == "dgrad" || packed) &&
                      (pass != "dgrad" || unit_stride);
    uint64_t tm, tn, threads;
    if (square || ldsm) { tm = 128; tn = 128; threads = 256; }
    else if (narrow) { tm = 128; tn = 16; threads = 128; }
    else if (pass == "wgrad") { tm = 64; tn = 64; threads = 128; }
    else { tm = 128; tn = 64; threads = 256; }
    const uint64_t tiles_m = (m + tm - 1) / tm, tiles_n = (cols + tn - 1) / tn;
    uint32_t split = 1;
    if (pass == "wgrad") {  // split_for(tiles, k_len, 8 * 32), TARGET_BLOCKS = 132 * 4
        const uint64_t tiles = std::max<uint64_t>(tiles_m * tiles_n * groups, 1);
        split = (uint32_t)std::clamp<uint64_t>(std::min<uint64_t>(528 / tiles, k_len / 256), 1, 1024);
    } else if (ldsm && ldsm_split_on) {
        split = 3;
        // launch_conv.rs: the host zeroes the output view the split blocks
        // add into (only the view: the rest of the buffer stays as it was).
        if (!p.accumulate) {
            const ViewParams& v = pass == "fwd" ? p.y : p.x;
            std::vector<float>& buf = pass == "fwd" ? y : x;
            for (uint32_t a = 0; a < v.dims[0]; ++a)
                for (uint32_t b = 0; b < v.dims[1]; ++b)
                    for (uint32_t c = 0; c < v.dims[2]; ++c)
                        for (uint32_t d = 0; d < v.dims[3]; ++d)
                            buf[v.offset + a * v.strides[0] + b * v.strides[1] + c * v.strides[2] +
                                d * v.strides[3]] = 0.f;
        }
    }
    // stem_direct (launch_conv.rs): one group, 3x3, stride 1 or 2, at most
    // 3 input channels and 64 (forward) / 32 (wgrad) output channels; exact
    // f32 whatever the precision. Both on 3 blocks here, so that their
    // grid-stride walks and double buffers (and the wgrad's atomics) are
    // exercised.
    const char* stem_env = std::getenv("SLIMMABLE_STEM_DIRECT");
    const char* stem_wgrad_env = std::getenv("SLIMMABLE_STEM_WGRAD_DIRECT");
    const bool stem_wgrad = !stem_wgrad_off && !(stem_wgrad_env && std::string(stem_wgrad_env) == "0");
    const bool stem = pass != "dgrad" && groups == 1 && p.w.dims[2] == 3 && p.w.dims[3] == 3 &&
                      (p.stride_h == 1 || p.stride_h == 2) && (p.stride_w == 1 || p.stride_w == 2) &&
                      ic <= 3 && oc <= (pass == "fwd" ? 64u : 32u) &&
                      (pass == "fwd" ? !(stem_env && std::string(stem_env) == "0") : stem_wgrad);
    if (stem) {
        if (pass == "fwd") {
            const unsigned tiles_w = (wo + 15) / 16, tiles_h = (ho + 15) / 16;
            shim_launch({std::min<unsigned>((unsigned)n * tiles_w * tiles_h, 3), 1, 1}, {256, 1, 1}, [&] {
                slimmable_conv2d_fwd_stem3(x.data(), w.data(), y.data(), bias.data(), p);
            });
        } else {
            const unsigned tiles_w = (wo + 15) / 16, tiles_h = (ho + 7) / 8;
            shim_launch({std::min<unsigned>((unsigned)n * tiles_w * tiles_h, 3), 1, 1}, {256, 1, 1},
                        [&] { slimmable_conv2d_wgrad_stem3(x.data(), w.data(), y.data(), p); });
        }
        const std::vector<float>& out = pass == "fwd" ? y : w;
        const std::string what = pass + " " + prec + " (stem)";
        return case_compare(what.c_str(), out, case_floats("expected.bin"), tol[0], tol[1]) ? 1 : 0;
    }
    // [pass][mode][narrow]
    const Kernel table[3][3][2] = {
        {{slimmable_conv2d_fwd_f32, slimmable_conv2d_fwd_f32_narrow},
         {slimmable_conv2d_fwd_tf32, slimmable_conv2d_fwd_tf32_narrow},
         {slimmable_conv2d_fwd_bf16, slimmable_conv2d_fwd_bf16_narrow}},
        {{slimmable_conv2d_dgrad_f32, slimmable_conv2d_dgrad_f32_narrow},
         {slimmable_conv2d_dgrad_tf32, slimmable_conv2d_dgrad_tf32_narrow},
         {slimmable_conv2d_dgrad_bf16, slimmable_conv2d_dgrad_bf16_narrow}},
        {{slimmable_conv2d_wgrad_f32, slimmable_conv2d_wgrad_f32_narrow},
         {slimmable_conv2d_wgrad_tf32, slimmable_conv2d_wgrad_tf32_narrow},
         {slimmable_conv2d_wgrad_bf16, slimmable_conv2d_wgrad_bf16_narrow}},
    };
    // The pointwise twins, 16-byte (pw_table) and 4-byte (pws_table)
    // gathers; exact f32 wgrad has none (nullptr).
    const Kernel pw_table[3][3][2] = {
        {{slimmable_conv2d_fwd_f32_pw, slimmable_conv2d_fwd_f32_pw_narrow},
         {slimmable_conv2d_fwd_tf32_pw, slimmable_conv2d_fwd_tf32_pw_narrow},
         {slimmable_conv2d_fwd_bf16_pw, slimmable_conv2d_fwd_bf16_pw_narrow}},
        {{slimmable_conv2d_dgrad_f32_pw, slimmable_conv2d_dgrad_f32_pw_narrow},
         {slimmable_conv2d_dgrad_tf32_pw, slimmable_conv2d_dgrad_tf32_pw_narrow},
         {slimmable_conv2d_dgrad_bf16_pw, slimmable_conv2d_dgrad_bf16_pw_narrow}},
        {{nullptr, nullptr},
         {slimmable_conv2d_wgrad_tf32_pw, slimmable_conv2d_wgrad_tf32_pw_narrow},
         {slimmable_conv2d_wgrad_bf16_pw, slimmable_conv2d_wgrad_bf16_pw_narrow}},
    };
    const Kernel pws_table[3][3][2] = {
        {{slimmable_conv2d_fwd_f32_pws, slimmable_conv2d_fwd_f32_pws_narrow},
         {slimmable_conv2d_fwd_tf32_pws, slimmable_conv2d_fwd_tf32_pws_narrow},
         {slimmable_conv2d_fwd_bf16_pws, slimmable_conv2d_fwd_bf16_pws_narrow}},
        {{slimmable_conv2d_dgrad_f32_pws, slimmable_conv2d_dgrad_f32_pws_narrow},
         {slimmable_conv2d_dgrad_tf32_pws, slimmable_conv2d_dgrad_tf32_pws_narrow},
         {slimmable_conv2d_dgrad_bf16_pws, slimmable_conv2d_dgrad_bf16_pws_narrow}},
        {{nullptr, nullptr},
         {slimmable_conv2d_wgrad_tf32_pws, slimmable_conv2d_wgrad_tf32_pws_narrow},
         {slimmable_conv2d_wgrad_bf16_pws, slimmable_conv2d_wgrad_bf16_pws_narrow}},
    };
    const int pi = pass == "fwd" ? 0 : pass == "dgrad" ? 1 : 2;
    // pointwise_eligible (launch_conv.rs): 1x1, stride 1, no padding, one
    // group, planes contiguous; pointwise_vec_eligible: also H*W, plane
    // offsets and strides multiples of 4, and 16-byte aligned pointers.
    auto plane = [](const ViewParams& v) {
        return v.strides[3] == 1 && v.strides[2] == v.dims[3];
    };
    auto vec4 = [](const ViewParams& v) {
        return v.dims[2] * v.dims[3] % 4 == 0 && v.offset % 4 == 0 && v.strides[0] % 4 == 0 &&
               v.strides[1] % 4 == 0;
    };
    const char* pw_env = std::getenv("SLIMMABLE_PW_VEC");
    const bool pw = khw == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 &&
                    p.pad_w == 0 && groups == 1 && plane(p.x) && plane(p.y) &&
                    pw_table[pi][mode][0] != nullptr && !(pw_env && std::string(pw_env) == "0");
    const bool aligned = ((uintptr_t)x.data() | (uintptr_t)y.data()) % 16 == 0;
    const bool vec16 = pw && vec4(p.x) && vec4(p.y) && aligned;
    // The square tiles' entries: [pass][general, pw, pws].
    const Kernel sq_table[3][3] = {
        {slimmable_conv2d_fwd_tf32_sq, slimmable_conv2d_fwd_tf32_pw_sq, slimmable_conv2d_fwd_tf32_pws_sq},
        {slimmable_conv2d_dgrad_tf32_sq, slimmable_conv2d_dgrad_tf32_pw_sq,
         slimmable_conv2d_dgrad_tf32_pws_sq},
        {slimmable_conv2d_wgrad_tf32_sq, nullptr, nullptr},
    };
    const Kernel ldsm_table[3] = {slimmable_conv2d_fwd_tf32_ldsm, slimmable_conv2d_dgrad_tf32_ldsm,
                                  slimmable_conv2d_wgrad_tf32_ldsm};
    const Kernel ldsm_bf16_table[3] = {slimmable_conv2d_fwd_bf16_ldsm,
                                       slimmable_conv2d_dgrad_bf16_ldsm,
                                       slimmable_conv2d_wgrad_bf16_ldsm};
    const Kernel wgmma_table[4][3] = {
        {slimmable_conv2d_fwd_tf32_wgmma, slimmable_conv2d_dgrad_tf32_wgmma,
         slimmable_conv2d_wgrad_tf32_wgmma},
        {slimmable_conv2d_fwd_tf32_wgmma4, slimmable_conv2d_dgrad_tf32_wgmma4,
         slimmable_conv2d_wgrad_tf32_wgmma4},
        {slimmable_conv2d_fwd_tf32_wgmma4o, slimmable_conv2d_dgrad_tf32_wgmma4o,
         slimmable_conv2d_wgrad_tf32_wgmma4o},
        {slimmable_conv2d_fwd_tf32_wgmma_k32, slimmable_conv2d_dgrad_tf32_wgmma_k32,
         slimmable_conv2d_wgrad_tf32_wgmma_k32},
    };
    const bool wgmma = ldsm && wgmma_on;
    // The wgmma emulation reads its operands through descriptors into the
    // dynamic shared buffer, as offsets into this window.
    shim_shared_window = reinterpret_cast<const char*>(ldsm_dynamic_smem());
    shim_shared_window_bytes = LDSM_DYNAMIC_BYTES;
    shim_wgmma_offsets_swapped = wgmma_swapped_on;
    const Kernel k = wgmma ? wgmma_table[wgmma_k32_on ? 3 : wgmma4o_on ? 2 : wgmma4_on ? 1 : 0][pi]
                     : ldsm && mode == 2 ? ldsm_bf16_table[pi]
                     : ldsm   ? ldsm_table[pi]
                     : square ? sq_table[pi][!pw ? 0 : vec16 ? 1 : 2]
                              : (!pw ? table : vec16 ? pw_table : pws_table)[pi][mode][narrow ? 1 : 0];
    shim_launch({(unsigned)tiles_m, (unsigned)tiles_n, (unsigned)(groups * split)},
                {(unsigned)threads, 1, 1},
                [&] { k(x.data(), w.data(), y.data(), bias.data(), p, split); });
    const std::vector<float>& out = pass == "fwd" ? y : pass == "dgrad" ? x : w;
    // (Wherever an ldmatrix or wgmma kernel runs, it is the forced route's,
    // which names it.)
    const std::string tiles = ldsm ? route : square ? "sq" : narrow ? "narrow" : "wide";
    const std::string what = pass + " " + prec + " (" + tiles + (!pw ? "" : vec16 ? " pw" : " pws") +
                             ", split " + std::to_string(split) + ")";
    const size_t bad = case_compare(what.c_str(), out, case_floats("expected.bin"), tol[0], tol[1]);
    return bad ? 1 : 0;
}
