// Checks the direct-order kernels of kernels/resize_pack.cu on the CPU (see
// cuda_shim.h) against a case written by tests/cuda_kernels_on_cpu.rs:
//   resize_check CASE_DIR KERNEL     (KERNEL: per_column | bilinear | aa, then -nosame,
//                                     -nostage, -outmajor as below)
//   resize_check sameweight          (rp_same_weight against rp_axis, bit for bit)
// CASE_DIR holds params.bin (ResizePackParams), desc.bin (u32 words),
// src.bin (source bytes), expected.bin (the CPU reference's arena, f32).
// The arena is poisoned with NaN first; every element must match within
// 1e-5 + 1e-5·|expected|. Prints the worst error; exits 1 on a mismatch.
#include "cuda_shim.h"
#include "resize_pack.cu"

#include "case_io.h"

// rp_same_weight against the rp_axis/rp_tap weight it stands for, bit for
// bit, for both filters, both align_corners and every size up to 4096.
static int check_same_weight() {
    for (u32 filter = 1; filter <= 2; ++filter)
        for (u32 ac = 0; ac <= 1; ++ac)
            for (int n = 1; n <= 4096; ++n)
                for (int d : {0, n / 2, n - 1}) {
                    int idx;
                    float w;
                    rp_tap(rp_axis(filter, ac, n, n, d), 0, idx, w);
                    const float c = rp_same_weight(filter, ac, n);
                    if (std::memcmp(&w, &c, sizeof w) != 0 || idx != d) {
                        std::printf("same_weight: filter %u align %u n %d d %d: %.9g (tap %d) "
                                    "against %.9g\n", filter, ac, n, d, w, idx, c);
                        return 1;
                    }
                }
    std::printf("same_weight: ok\n");
    return 0;
}

int main(int argc, char** argv) {
    if (argc == 2 && std::string(argv[1]) == "sameweight") return check_same_weight();
    if (argc != 3) {
        std::fprintf(stderr, "usage: resize_check CASE_DIR per_column|bilinear|aa[-nosame][-nostage][-outmajor]\n");
        return 2;
    }
    case_dir = argv[1];
    auto p = case_params<ResizePackParams>("params.bin");
    // "<kernel>-nosame": the tile kernels without their same-size path;
    // "-nostage": without staged spans; "-outmajor": blocks output by
    // output instead of through the image-major tile-run table.
    std::string which = argv[2];
    for (const auto& [suffix, flag] : {std::pair{std::string("-outmajor"), &p.tile_runs},
                                       std::pair{std::string("-nostage"), &p.staged},
                                       std::pair{std::string("-nosame"), &p.same_size}}) {
        if (which.size() > suffix.size() && which.ends_with(suffix)) {
            which.resize(which.size() - suffix.size());
            *flag = 0;
        }
    }
    auto desc = case_array<u32>("desc.bin");
    auto src = case_bytes("src.bin");
    src.resize(src.size() + 8, 0);  // the 32-bit reads never pass the image, but keep slack
    const auto expected = case_floats("expected.bin");
    std::vector<float> out(expected.size(), std::nanf(""));
    // 16-byte aligned source, as a device allocation is.
    std::vector<uint32_t> aligned((src.size() + 3) / 4);
    std::memcpy(aligned.data(), src.data(), src.size());
    const auto* s = reinterpret_cast<const unsigned char*>(aligned.data());
    if (which == "bilinear") {
        // launch_resize.rs resize_route: p.total_tiles blocks of RPBL_THREADS.
        shim_launch(p.total_tiles, RPBL_THREADS,
                    [&] { slimmable_resize_pack_bilinear(s, desc.data(), out.data(), p); });
    } else if (which == "aa") {
        // launch_resize.rs resize_route: p.total_tiles blocks of RPB_THREADS.
        shim_launch(p.total_tiles, RPB_THREADS,
                    [&] { slimmable_resize_pack_aa(s, desc.data(), out.data(), p); });
    } else if (which == "per_column") {
        const unsigned blocks = (p.total_groups + 255) / 256;
        shim_launch(blocks, 256, [&] { slimmable_resize_pack(s, desc.data(), out.data(), p); });
    } else {
        std::fprintf(stderr, "unknown kernel %s\n", which.c_str());
        return 2;
    }
    const size_t bad = case_compare(argv[2], out, expected, 1e-5, 1e-5);
    return bad ? 1 : 0;
}
