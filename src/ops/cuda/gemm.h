#pragma once
// Linear layers on cuBLASLt. Row-major x [M, K] @ w [K, N] (HF Conv1D) or x @ w[N, K]^T (tied lm_head),
// with the bias and GELU folded into the cuBLASLt epilogue and the residual as its C operand
// (D = x@w + residual + bias, then GELU). cuBLASLt's GELU epilogue is the tanh approximation, i.e. HF
// gelu_new (the form torch._addmm_activation(use_gelu=True) relies on); fp32 plans still apply GELU in
// their own kernel (precise tanhf) so that fp32 logits stay within 1e-4 of the CPU.
//
// Everything that can allocate or search (descriptors, heuristic) happens at construction, so run() only
// enqueues kernels: it is safe inside CUDA graph capture.
#include <cublasLt.h>

#include <cstdint>

#include "ops/cuda/kernels.h"

namespace jitgen::cuda {

// cuBLASLt workspace each runner provides to every GEMM (one buffer, reused: GEMMs run in stream order).
constexpr size_t kGemmWorkspaceBytes = 8u << 20;

// The column-major problem cuBLASLt solves for a row-major linear layer: out^T [N, M] = op(A) [N, K] @ x^T
// [K, M]. Host logic, unit-tested.
struct LtLayout {
  int64_t m, n, k;  // rows of D, cols of D, inner
  bool transpose_a;
  int64_t lda, ldb, ldd;
};
LtLayout lt_layout(int64_t M, int64_t K, int64_t N, bool w_transposed);

struct GemmSpec {
  Storage storage = Storage::kF32;
  int64_t M = 0, K = 0, N = 0;
  bool w_transposed = false;  // w is [N, K] (lm_head) instead of [K, N]
  const void* bias = nullptr;  // [N] in storage type; fixed for the plan's lifetime
  bool gelu = false;           // epilogue GELU (tanh form) after the bias
  bool residual = false;       // run() adds a [M, N] residual (same storage); never with gelu (the CPU
                               // order is activation, then residual; cuBLASLt's is the reverse)
  bool out_f32 = false;        // D in fp32 whatever the storage (logits)
};

// Throws kInternal with the cuBLAS status name on failure.
void check_cublas(cublasStatus_t status, const char* what);

class LtGemm {
 public:
  LtGemm(cublasLtHandle_t handle, const GemmSpec& spec);
  ~LtGemm();
  LtGemm(const LtGemm&) = delete;
  LtGemm& operator=(const LtGemm&) = delete;

  // residual may alias out (cuBLASLt allows C == D with equal layouts).
  void run(const void* x, const void* w, const void* residual, void* out, void* workspace, cudaStream_t st) const;
  const GemmSpec& spec() const { return spec_; }

 private:
  cublasLtHandle_t handle_;
  GemmSpec spec_;
  cublasLtMatmulDesc_t desc_ = nullptr;
  cublasLtMatrixLayout_t a_ = nullptr, b_ = nullptr, c_ = nullptr, d_ = nullptr;
  cublasLtMatmulAlgo_t algo_{};
};

}  // namespace jitgen::cuda
