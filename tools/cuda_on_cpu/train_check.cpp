// Checks kernels/linear.cu's tiled forward and kernels/loss.cu's warp-a-row
// losses on the CPU (see cuda_shim.h) against a case written by
// tests/cuda_kernels_on_cpu.rs:
//   train_check CASE_DIR linear|ce|kl
// linear: params.bin (LinearParams), x.bin, w.bin, b.bin, y.bin (poisoned),
//   expected.bin (y after the CPU reference).
// ce, kl: params.bin (LossParams), a.bin (logits / student), b.bin (labels /
//   teacher), loss.bin and d.bin (poisoned), expected_loss.bin,
//   expected_d.bin.
// Launch shapes mirror src/backend/cuda/launch_train.rs. Every element must
// match within 1e-5 + 1e-4·|expected| (linear: 2e-4 + 1e-4·|expected|).
#include "cuda_shim.h"
#include "linear.cu"
#include "loss.cu"

#include "case_io.h"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: train_check CASE_DIR linear|ce|kl\n");
        return 2;
    }
    case_dir = argv[1];
    const std::string op = argv[2];
    size_t bad = 0;
    if (op == "linear") {
        const auto p = case_params<LinearParams>("params.bin");
        const auto x = case_floats("x.bin"), w = case_floats("w.bin"), b = case_floats("b.bin");
        auto y = case_floats("y.bin");
        // launch_linear_forward: 32 x 32 output tiles of 256 threads.
        const unsigned grid_x = (p.y.dims[1] + 31) / 32, grid_y = (p.x.dims[0] + 31) / 32;
        shim_launch({grid_x, grid_y, 1}, {LIN_THREADS, 1, 1},
                    [&] { slimmable_linear_forward_f32(x.data(), w.data(), b.data(), y.data(), p); });
        // 2e-4: the tiles sum up to 1280 products in another order than the
        // reference (any indexing slip is off by far more).
        bad = case_compare("linear forward y", y, case_floats("expected.bin"), 2e-4, 1e-4);
    } else if (op == "ce" || op == "kl") {
        const auto p = case_params<LossParams>("params.bin");
        const auto a = case_floats("a.bin"), b = case_floats("b.bin");
        auto loss = case_floats("loss.bin"), d = case_floats("d.bin");
        // launch_train.rs one_block: one block of LOSS_THREADS.
        shim_launch(1, LOSS_THREADS, [&] {
            if (op == "ce") slimmable_cross_entropy_f32(a.data(), b.data(), loss.data(), d.data(), p);
            else slimmable_kl_div_f32(a.data(), b.data(), loss.data(), d.data(), p);
        });
        bad = case_compare((op + " loss").c_str(), loss, case_floats("expected_loss.bin"), 1e-5, 1e-4) +
              case_compare((op + " dlogits").c_str(), d, case_floats("expected_d.bin"), 1e-5, 1e-4);
    } else {
        std::fprintf(stderr, "unknown op %s\n", op.c_str());
        return 2;
    }
    return bad ? 1 : 0;
}
