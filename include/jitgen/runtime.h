#pragma once
// Runtime settings: how a model is executed. Kept apart from model hyper-parameters (config.json) and
// from GenerationConfig (HF option names).
namespace jitgen {

enum class ExecutionMode {
  kEager,     // op by op: the reference
  kCompiled,  // traced once per shape bucket into a fused, memory-planned, cached executable
};

// Where a model runs. kCuda needs a build with -DJITGEN_CUDA=ON and a visible GPU (docs/cuda.md).
enum class Device {
  kCpu,
  kCuda,
};

// JITGEN_DEVICE=cpu|cuda (unset: cpu): the device when the caller names none. Throws kInvalidArgument otherwise.
Device default_device();

}  // namespace jitgen
