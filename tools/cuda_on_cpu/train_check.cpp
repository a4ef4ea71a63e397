// Checks kernels/linear.cu's tiled forward, kernels/loss.cu's warp-a-row
// losses and kernels/sgd.cu's multi-tensor step on the CPU (see
// cuda_shim.h) against a case written by tests/cuda_kernels_on_cpu.rs:
//   train_check CASE_DIR linear|ce|kl|sgd_many
// linear: params.bin (LinearParams), x.bin, w.bin, b.bin, y.bin (poisoned),
//   expected.bin (y after the CPU reference).
// ce, kl: params.bin (LossParams), a.bin (logits / student), b.bin (labels /
//   teacher), loss.bin and d.bin (poisoned), expected_loss.bin,
//   expected_d.bin.
// sgd_many: params.bin (SgdManyParams), table.bin (SgdSlotEntry[] from
//   sgd_many_table, its pointers element offsets into the arrays below),
//   blocks.bin (u32 grid), param.bin, grad.bin, mom.bin (every slot end to
//   end), expected_param.bin, expected_grad.bin, expected_mom.bin.
// Launch shapes mirror src/backend/cuda/launch_train.rs. Every element must
// match within 1e-5 + 1e-4·|expected| (linear: 2e-4 + 1e-4·|expected|).
#include "cuda_shim.h"
#include "linear.cu"
#include "loss.cu"
#include "sgd.cu"

#include "case_io.h"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: train_check CASE_DIR linear|ce|kl|sgd_many\n");
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
    } else if (op == "sgd_many") {
        const auto p = case_params<SgdManyParams>("params.bin");
        auto table = case_array<SgdSlotEntry>("table.bin");
        const unsigned blocks = case_array<unsigned>("blocks.bin").at(0);
        auto param = case_floats("param.bin"), grad = case_floats("grad.bin"), mom = case_floats("mom.bin");
        // The table's pointers are offsets into the three arrays: rebase them
        // onto this process's copies.
        for (auto& e : table) {
            e.param = reinterpret_cast<unsigned long long>(param.data() + e.param);
            e.grad = reinterpret_cast<unsigned long long>(grad.data() + e.grad);
            e.momentum = reinterpret_cast<unsigned long long>(mom.data() + e.momentum);
        }
        // launch_sgd_many: `blocks` blocks of SGD_MANY_THREADS (256).
        shim_launch(blocks, 256, [&] { slimmable_sgd_many_f32(table.data(), p); });
        bad = case_compare("sgd param", param, case_floats("expected_param.bin"), 1e-6, 1e-5) +
              case_compare("sgd grad", grad, case_floats("expected_grad.bin"), 0.0, 0.0) +
              case_compare("sgd momentum", mom, case_floats("expected_mom.bin"), 1e-6, 1e-5);
    } else {
        std::fprintf(stderr, "unknown op %s\n", op.c_str());
        return 2;
    }
    return bad ? 1 : 0;
}
