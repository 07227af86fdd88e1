#include "ops/cuda/gemm.h"

#include <fmt/format.h>

#include "jitgen/error.h"

namespace jitgen::cuda {

namespace {

cudaDataType_t cuda_type(Storage s) {
  switch (s) {
    case Storage::kF32: return CUDA_R_32F;
    case Storage::kF16: return CUDA_R_16F;
    case Storage::kBF16: return CUDA_R_16BF;
  }
  return CUDA_R_32F;
}

}  // namespace

void check_cublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw Error(ErrorCode::kInternal, fmt::format("cuBLASLt error {} ({}) in {}", static_cast<int>(status),
                                                  cublasLtGetStatusString(status), what));
}

LtLayout lt_layout(int64_t M, int64_t K, int64_t N, bool w_transposed) {
  // Row-major w [K, N] is column-major [N, K] with ld N: A as is. Row-major w [N, K] is column-major [K, N]
  // with ld K: A transposed. Row-major x [M, K] is column-major [K, M] (ld K); out [M, N] is [N, M] (ld N).
  return LtLayout{N, M, K, w_transposed, w_transposed ? K : N, K, N};
}

LtGemm::LtGemm(cublasLtHandle_t handle, const GemmSpec& spec) : handle_(handle), spec_(spec) {
  JITGEN_CHECK(!(spec.gelu && spec.residual));
  const LtLayout l = lt_layout(spec.M, spec.K, spec.N, spec.w_transposed);
  const cudaDataType_t in = cuda_type(spec.storage), out = spec.out_f32 ? CUDA_R_32F : in;
  // fp32 compute for every storage: plain FP32 (no TF32) keeps fp32 plans exact to ~1e-6 of the CPU.
  check_cublas(cublasLtMatmulDescCreate(&desc_, CUBLAS_COMPUTE_32F, CUDA_R_32F), "matmul descriptor");
  const cublasOperation_t ta = l.transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, tb = CUBLAS_OP_N;
  check_cublas(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)), "TRANSA");
  check_cublas(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)), "TRANSB");
  cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
  if (spec.bias) epi = spec.gelu ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
  else if (spec.gelu) epi = CUBLASLT_EPILOGUE_GELU;
  check_cublas(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)), "EPILOGUE");
  if (spec.bias) {
    check_cublas(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &spec.bias,
                                                sizeof(spec.bias)),
                 "BIAS_POINTER");
    const cudaDataType_t bias_type = in;  // the bias is a weight: stored like the weights
    check_cublas(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type,
                                                sizeof(bias_type)),
                 "BIAS_DATA_TYPE");
  }
  const uint64_t a_rows = l.transpose_a ? l.k : l.m, a_cols = l.transpose_a ? l.m : l.k;
  check_cublas(cublasLtMatrixLayoutCreate(&a_, in, a_rows, a_cols, l.lda), "layout A");
  check_cublas(cublasLtMatrixLayoutCreate(&b_, in, l.k, l.n, l.ldb), "layout B");
  check_cublas(cublasLtMatrixLayoutCreate(&c_, out, l.m, l.n, l.ldd), "layout C");
  check_cublas(cublasLtMatrixLayoutCreate(&d_, out, l.m, l.n, l.ldd), "layout D");

  cublasLtMatmulPreference_t pref = nullptr;
  check_cublas(cublasLtMatmulPreferenceCreate(&pref), "preference");
  const size_t ws = kGemmWorkspaceBytes;
  check_cublas(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)),
               "workspace preference");
  // The heuristic assumes 256-byte aligned operands unless told otherwise; arena buffers are only 64-byte
  // aligned (graph/memory_plan.cc), so exclude the algorithms that would reject them at run time.
  const uint32_t align = 64;
  for (auto attr : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES})
    check_cublas(cublasLtMatmulPreferenceSetAttribute(pref, attr, &align, sizeof(align)), "alignment preference");
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(handle_, desc_, a_, b_, c_, d_, pref, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  check_cublas(st, "algorithm heuristic");
  if (found == 0)
    throw Error(ErrorCode::kInternal,
                fmt::format("cuBLASLt has no algorithm for a {} linear M={} K={} N={}{}{}", storage_name(spec.storage),
                            spec.M, spec.K, spec.N, spec.gelu ? " +gelu" : "", spec.bias ? " +bias" : ""));
  algo_ = result.algo;
}

LtGemm::~LtGemm() {
  if (d_) cublasLtMatrixLayoutDestroy(d_);
  if (c_) cublasLtMatrixLayoutDestroy(c_);
  if (b_) cublasLtMatrixLayoutDestroy(b_);
  if (a_) cublasLtMatrixLayoutDestroy(a_);
  if (desc_) cublasLtMatmulDescDestroy(desc_);
}

void LtGemm::run(const void* x, const void* w, const void* residual, void* out, void* workspace,
                 cudaStream_t st) const {
  const float alpha = 1.0f, beta = spec_.residual ? 1.0f : 0.0f;
  const void* c = spec_.residual ? residual : out;
  check_cublas(cublasLtMatmul(handle_, desc_, &alpha, w, a_, x, b_, &beta, c, c_, out, d_, &algo_, workspace,
                              kGemmWorkspaceBytes, st),
               "cublasLtMatmul");
}

}  // namespace jitgen::cuda
