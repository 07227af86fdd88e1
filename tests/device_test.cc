// Device selection (models/step_runner.h), on every build: JITGEN_DEVICE parsing, and a CUDA request that cannot
// be served (a CPU-only build, or no GPU) is one actionable kInvalidArgument, never a crash.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "jitgen/error.h"
#include "jitgen/model.h"
#include "exec/step_runner.h"
#ifdef JITGEN_WITH_CUDA
#include "runtime/cuda_runtime.h"
#endif

namespace jitgen {
namespace {

struct ScopedEnv {
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }
  const char* name_;
};

TEST(Device, DefaultDeviceFollowsJitgenDevice) {
  unsetenv("JITGEN_DEVICE");
  EXPECT_EQ(default_device(), Device::kCpu);
  {
    ScopedEnv e("JITGEN_DEVICE", "cuda");
    EXPECT_EQ(default_device(), Device::kCuda);
  }
  {
    ScopedEnv e("JITGEN_DEVICE", "cpu");
    EXPECT_EQ(default_device(), Device::kCpu);
  }
  ScopedEnv e("JITGEN_DEVICE", "tpu");
  try {
    default_device();
    FAIL() << "expected an error";
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(err.what()).find("expected cpu or cuda"), std::string::npos) << err.what();
  }
}

TEST(Device, UnservableCudaRequestIsAnInvalidArgument) {
#ifdef JITGEN_WITH_CUDA
  if (cuda::device_count() > 0) GTEST_SKIP() << "a GPU is present: tests/cuda_test.cc covers it";
  const std::string expected = "no CUDA device";
#else
  const std::string expected = "built without CUDA";
#endif
  const Model m = Model::random_preset("tiny", 1);
  try {
    make_step_runner(m, 1, 8, ExecutionMode::kCompiled, 8, Device::kCuda);
    FAIL() << "expected an error";
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(err.what()).find(expected), std::string::npos) << err.what();
  }
}

}  // namespace
}  // namespace jitgen
