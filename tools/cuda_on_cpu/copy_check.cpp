// Checks kernels/copy.cu's 4-wide slice copy on the CPU (see cuda_shim.h)
// against a case written by tests/cuda_kernels_on_cpu.rs:
//   copy_check CASE_DIR
// params.bin (SliceCopyParams, both views packed_vec4_runs), src.bin,
// dst.bin (poisoned outside and inside the view), expected.bin (dst after
// the CPU reference's copy). Runs with the grid launch::launch_slice_copy
// gives it (one thread a vector, 256-thread blocks) and with two blocks, so
// that the grid-stride loop wraps. Every element must match exactly.
#include "cuda_shim.h"
#include "copy.cu"

#include "case_io.h"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: copy_check CASE_DIR\n");
        return 2;
    }
    case_dir = argv[1];
    const auto p = case_params<SliceCopyParams>("params.bin");
    const auto src = case_floats("src.bin");
    const auto expected = case_floats("expected.bin");
    const unsigned vectors = p.dst.dims[0] * p.dst.dims[1] * p.dst.dims[2] * p.dst.dims[3] / 4;
    size_t bad = 0;
    for (unsigned blocks : {(vectors + 255) / 256, 2u}) {
        auto dst = case_floats("dst.bin");
        shim_launch(blocks, 256, [&] {
            slimmable_slice_copy_runs_vec4(reinterpret_cast<const float4*>(src.data()),
                                           reinterpret_cast<float4*>(dst.data()), p);
        });
        const std::string what = "copy vec4, " + std::to_string(blocks) + " blocks";
        bad += case_compare(what.c_str(), dst, expected, 0.0, 0.0);
    }
    return bad ? 1 : 0;
}
